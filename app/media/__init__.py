"""Pure media logic: ladder, encoder probe, ffmpeg arguments, LL-HLS packager, storage, nginx config."""
