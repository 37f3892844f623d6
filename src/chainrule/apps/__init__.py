"""Applications: what chainrule's commands are built from, above the training layer.

    seed.py         the seed experiment (z = 5a^2 + 3b^2, 2-10-1 sigmoid network) and its sweep
    torch_twin.py   a PyTorch twin trained in lockstep, to compare step losses
    csvdata.py      reading CSV files into arrays
    expression.py   safe formulas of named variables (chainrule train --function)
    plot.py         every figure (matplotlib)
    trace.py        the backward pass written out step by step (chainrule explain)
    viz.py          the graph of a computation, as Graphviz DOT
    interop.py      reading and writing PyTorch state dicts and files
"""
