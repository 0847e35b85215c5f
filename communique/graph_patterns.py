"""SPARQL patterns over every published triple, whatever the store's default graph is."""


def everywhere(pattern: str, *, union_default_graph: bool) -> str:
    """A group matching `pattern` in every graph: the default graph and each named graph.

    With a union default graph, the default graph already holds every triple (as a bag: a
    triple in two graphs matches twice); otherwise the named graphs are added to it.

    >>> everywhere("?s ?p ?o", union_default_graph=True)
    '{ ?s ?p ?o }'
    >>> everywhere("?s ?p ?o", union_default_graph=False)
    '{ { ?s ?p ?o } UNION { GRAPH ?anyGraph { ?s ?p ?o } } }'
    """
    if union_default_graph:
        return f"{{ {pattern} }}"
    return f"{{ {{ {pattern} }} UNION {{ GRAPH ?anyGraph {{ {pattern} }} }} }}"
