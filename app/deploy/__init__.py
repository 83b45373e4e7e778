"""Deployment configuration rendered from the app's settings: the box's nginx (`flask nginx render`).
supervisord's config is rendered by scripts/supervisord_conf.py, which runs without the app."""
