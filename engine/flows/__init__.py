"""JSON DAG flows: the published schema, validation with JSON Pointers, and compilation into the Graph.

    schema.py     the JSON Schema (draft 2020-12) of a flow document
    validate.py   every problem of a document, located by JSON Pointer
    compile.py    a valid document → engine.graph.Graph (the graph BPMN compiles into)
    document.py   a deployed resource (`*.flow.json`) → (document, graph), or FlowError
    triggers.py   the document's webhook and schedule triggers as FlowTrigger rows
    diagram.py    a generated BPMN file of the graph, so the Inspector draws flows like processes
"""
