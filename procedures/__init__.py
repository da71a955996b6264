"""Online administrative procedures with workflows and legal acknowledgements (later issue)."""
