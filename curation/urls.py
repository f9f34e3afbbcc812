"""URLs under /api/v1/curation/."""
from rest_framework.routers import SimpleRouter

from .api import AnnotationViewSet, BlockViewSet, BoostViewSet, DiversityViewSet, PinViewSet

router = SimpleRouter()
router.register("pins", PinViewSet, basename="curation-pin")
router.register("blocks", BlockViewSet, basename="curation-block")
router.register("boosts", BoostViewSet, basename="curation-boost")
router.register("annotations", AnnotationViewSet, basename="curation-annotation")
router.register("diversity", DiversityViewSet, basename="curation-diversity")

urlpatterns = router.urls
