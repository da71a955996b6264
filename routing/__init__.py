"""Categories of reports and the spatial routing rules that send each one to a service."""
