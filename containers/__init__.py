"""Deployments: the runtime catalogue's use, the Docker client, lifecycle, preview proxy."""
