"""The net and solver definitions of the model zoo (installed as ``models.prototxt``)."""
