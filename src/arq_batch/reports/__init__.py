"""Pages for people: the shared frame of the HTML reports (training's, monitoring's).

May import: the kernel and matplotlib (lazily, to draw figures as inline PNGs).
"""
