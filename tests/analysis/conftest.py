import pytest

from analysis.pipeline import Analyzer
from settings import Scheme

SCHEMES = [
    Scheme(name="beichen", keywords=["北辰燃料乙醇", "北辰乙醇"], exclude=["招聘"]),
    Scheme(name="safety", keywords=["北辰燃料乙醇"], must=["泄漏"], any=["厂区", "车间"]),
]


@pytest.fixture(scope="session")
def analyzer() -> Analyzer:
    return Analyzer(SCHEMES)
