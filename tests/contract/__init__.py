"""The shared contract suite every engine driver passes (see ``suite.EngineContract``)."""
