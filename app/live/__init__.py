"""The live runtime: live hosts that own sessions by lease and give each the rendition set that fits."""
