"""The double-entry journal (issue 4). Imports no other domain package."""
