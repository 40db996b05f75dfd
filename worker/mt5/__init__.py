"""MetaTrader 5 terminals: the rpyc bridge, the login-switching session, the job kinds."""
