"""Messages: handing a message to the instance that waits for it (publishing is an action)."""
