"""SAIL core library."""
