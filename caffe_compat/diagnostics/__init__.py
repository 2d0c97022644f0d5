"""Error messages: :mod:`.suggest` ("did you mean" for misspelt names), :mod:`.locations`
(file, line and layer of a definition, for messages that point at it) and :mod:`.messages`
(protobuf messages and legacy fields named in errors).
"""
