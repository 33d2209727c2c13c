"""The rules of the detection chain that need a module of their own."""
