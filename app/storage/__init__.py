"""Where files live: the storage backends (a local directory or S3), the live mirror that copies HLS
output into them, the `flask storage` commands, and atomic file writes (used by the packagers and
the nginx renderer as well: a write that readers never see half done)."""
