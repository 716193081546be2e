"""Settings: ``base`` reads everything from the environment; ``production`` tightens it."""
