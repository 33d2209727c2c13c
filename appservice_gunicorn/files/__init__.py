"""Reading the deployed files without running them: file-system questions that never
raise, Python source as text and AST; and the folders gunicorn can write to."""
