"""chainrule.optim: optimizers and learning-rate schedules."""
