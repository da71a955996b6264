"""The agents' workspace: queues, shared layers and request APIs."""
