"""Plan, then apply: the deploy's steps as data, one executor, one or several targets."""
