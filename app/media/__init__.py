"""Pure media logic: ladder, encoder probe, ffmpeg arguments, fMP4, LL-HLS packager, VOD building."""
