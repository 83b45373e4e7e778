"""The live host process: many live sessions per host, each owned by a lease (python -m workers.live)."""
