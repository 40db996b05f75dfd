"""switchyard: the kernel both sides share and the command that composes the parts."""
