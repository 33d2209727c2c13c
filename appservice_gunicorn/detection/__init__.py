"""The detection chain: which app in the folder to serve, and why, read from files only."""
