"""A stand-in for nginx-rtmp's statistics page (`rtmp_stat`), for tests of what reads it: XML of
the same shape (ngx_rtmp_stat_module.c), listing the streams `publishing` names with a publishing
client and those `playing` names with a player only."""
from __future__ import annotations

from tests.httpd import Quiet, Served


class StatServer:
    def __init__(self) -> None:
        self.publishing: set[str] = set()
        self.playing: set[str] = set()
        self.broken = False  # answer 500, as an nginx without the RTMP module would 404
        owner = self

        class Handler(Quiet):
            def do_GET(self) -> None:
                body = owner.xml().encode()
                self.send_response(500 if owner.broken else 200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.served = Served(Handler)

    @property
    def url(self) -> str:
        return self.served.url("/stat")

    def xml(self) -> str:
        streams = []
        for name in sorted(self.publishing | self.playing):
            clients = ""
            if name in self.publishing:
                clients += "<client><id>1</id><address>127.0.0.1</address><publishing/><active/></client>"
            if name in self.playing:
                clients += "<client><id>2</id><address>127.0.0.1</address><active/></client>"
            streams.append(f"<stream><name>{name}</name>{clients}<nclients>2</nclients></stream>")
        return ("<?xml version=\"1.0\"?><rtmp><server><application><name>live</name><live>"
                f"{''.join(streams)}</live></application></server></rtmp>")

    def close(self) -> None:
        self.served.close()
