"""vlmkit's ready-made conformance suite, pointed at our projector: this is all a plugin author
needs to check the contract (shapes, token counts, gradients, frozen parts, state dict, inside a
tiny VLM, registered name)."""

from vlmkit.testing import ProjectorConformance

from vlmkit_cabstractor.cabstractor import CAbstractor


class TestCAbstractor(ProjectorConformance):
    factory = CAbstractor
    registered_name = "c_abstractor"
    kwargs = {"num_queries": 4, "depth": 1, "hidden_dim": 16}
    # 4x4 and 6x6 grids, a non-square 4x6 grid, and CLS + 3x3 with no grid.
    shapes = ((16, (4, 4)), (36, (6, 6)), (24, (4, 6)), (10, None))


class TestCAbstractorDeepNoPositions(ProjectorConformance):
    factory = CAbstractor
    registered_name = "c_abstractor"
    kwargs = {"num_queries": 9, "depth": 2, "pos_emb": False}
