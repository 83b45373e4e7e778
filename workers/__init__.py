"""RQ job entry points; `python -m workers` runs a worker with the Flask app context pushed."""
