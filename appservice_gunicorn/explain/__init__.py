"""What the launcher decided and why: log lines, --explain text and JSON, the default site."""
