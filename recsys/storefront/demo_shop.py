"""The demo shop: a pure, seeded generator of items, shoppers and events (no ORM).

Structure, so a collaborative model has something to learn beyond popularity:
- 20 categories in 5 "worlds" (home cooking, living, outdoors, culture, care); each category has
  5 brands and items whose popularity follows a power law (Zipf) inside the category.
- 12 taste clusters. A cluster likes 2-4 categories (mostly of one world, sometimes one from
  another) and, inside each, 2 of its 5 brands. A shopper belongs to 1-3 clusters.
- Shoppers browse in sessions: a session picks one of the shopper's clusters and one of its
  categories, then views a few items drawn by popularity x brand affinity; a funnel turns views
  into clicks, carts, purchases and ratings. A little noise comes from global popularity.
So items co-occur by cluster (category + brand), which popularity alone cannot see.

`generate(seed=..., scale=..., now=...)` returns a `DemoShop`; events are columnar numpy arrays
so 200,000 of them cost a few MB. The `demo` management command writes it in bulk.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np

from recsys.core.limits import DEMO_ITEM_PREFIX, DEMO_USER_PREFIX

ITEM_PREFIX = DEMO_ITEM_PREFIX
USER_PREFIX = DEMO_USER_PREFIX  # every demo shopper id starts with this (the demo API scope relies on it)
SHOPPER_PREFIX = f"{USER_PREFIX}u"
EVENT_PREFIX = "demo:"
DAYS = 90
BASE_ITEMS = 2000
BASE_SHOPPERS = 3000
BASE_EVENTS = 200_000

ADMIN_USERNAME, ADMIN_PASSWORD = "admin", "curio-admin"
MERCHANDISER_USERNAME, MERCHANDISER_PASSWORD = "merchandiser", "curio-merch"
MERCHANDISER_GROUP = "Merchandiser"

# category -> (nouns, brands, typical price)
CATEGORIES: dict[str, tuple[tuple[str, ...], tuple[str, ...], float]] = {
    # home cooking
    "Kitchen": (("Chef's Knife", "Skillet", "Saucepan", "Cutting Board", "Dutch Oven", "Wok", "Grater",
                 "Ladle", "Colander", "Stockpot"), ("Ferro", "Kochwerk", "Amber & Oak", "Lumen", "Castiron Co"), 45),
    "Tableware": (("Dinner Plate", "Pasta Bowl", "Wine Glass", "Serving Platter", "Mug", "Tumbler", "Carafe",
                   "Napkin Set", "Salad Bowl", "Cutlery Set"),
                  ("Porcella", "Stoneleaf", "Glasshaus", "Minto", "Ardent"), 28),
    "Coffee & Tea": (("Pour-Over Kettle", "French Press", "Espresso Cup", "Tea Infuser", "Coffee Grinder",
                      "Teapot", "Milk Frother", "Bean Canister", "Drip Cone", "Moka Pot"),
                     ("Roastery", "Kettleworks", "Chai House", "Bialetta", "Brewline"), 35),
    "Baking": (("Loaf Tin", "Mixing Bowl", "Rolling Pin", "Tart Pan", "Proofing Basket", "Whisk", "Scale",
                "Cooling Rack", "Piping Set", "Bench Scraper"), ("Flour & Co", "Crumbly", "Bakewell", "Ovenly",
                                                                   "Kneadwell"), 22),
    # living
    "Furniture": (("Armchair", "Side Table", "Bookshelf", "Bench", "Desk", "Stool", "Sofa", "Sideboard",
                   "Coffee Table", "Dresser"), ("Nordhem", "Oakline", "Loftly", "Studio Rue", "Hanson & Pike"), 240),
    "Lighting": (("Floor Lamp", "Desk Lamp", "Pendant", "Wall Sconce", "Lantern", "String Lights", "Table Lamp",
                  "Night Light", "Ceiling Light", "Reading Lamp"), ("Lumo", "Glowhaus", "Brightly", "Fjell",
                                                                    "Solace"), 70),
    "Decor": (("Vase", "Mirror", "Wall Print", "Candle Holder", "Throw Pillow", "Planter", "Clock", "Rug",
               "Photo Frame", "Sculpture"), ("Mosaik", "Driftwood", "Hearth", "Palette", "Verde"), 40),
    "Bedding": (("Duvet Cover", "Pillowcase Set", "Fitted Sheet", "Throw Blanket", "Quilt", "Mattress Topper",
                 "Pillow", "Bedspread", "Sleep Mask", "Weighted Blanket"), ("Snooze", "Linenly", "Cloudrest", "Dunes",
                                                                             "Woolpack"), 60),
    # outdoors
    "Camping": (("Tent", "Sleeping Bag", "Camp Stove", "Headlamp", "Cooler", "Camp Chair", "Hammock",
                 "Water Filter", "Tarp", "Sleeping Pad"), ("Trailmark", "Basecamp", "Northpine", "Ember", "Ridgeway"),
                85),
    "Hiking": (("Daypack", "Trekking Poles", "Rain Jacket", "Hiking Boots", "Water Bottle", "Trail Map",
                "Compass", "Gaiters", "Fleece", "Sun Hat"), ("Summit", "Alpenweg", "Cairn", "Wildtrail", "Scree"), 65),
    "Cycling": (("Helmet", "Bike Light", "Saddle Bag", "Cycling Gloves", "Bike Lock", "Pump", "Jersey",
                 "Bottle Cage", "Multi-Tool", "Panniers"), ("Velo", "Spokesmith", "Crankset", "Rouleur", "Tailwind"),
                50),
    "Running": (("Running Shoes", "Running Vest", "Sports Watch", "Arm Band", "Running Socks", "Windbreaker",
                 "Hydration Belt", "Running Cap", "Compression Tights", "Foam Roller"),
                ("Stride", "Pacer", "Fleetfoot", "Kinetic", "Marathona"), 55),
    # culture
    "Books": (("Novel", "Cookbook", "Field Guide", "Poetry Collection", "Travel Guide", "Biography",
               "Graphic Novel", "Essay Collection", "Atlas", "Puzzle Book"),
              ("Penwick Press", "Inkwell", "Foliant", "Marginalia", "Papyrus"), 18),
    "Music": (("Vinyl Record", "Turntable", "Headphones", "Ukulele", "Harmonica", "Speaker", "Guitar Strings",
               "Metronome", "Songbook", "Tuner"), ("Groove", "Analogue", "Resonant", "Lyra", "Tempo"), 45),
    "Board Games": (("Strategy Game", "Card Game", "Party Game", "Puzzle", "Dice Set", "Chess Set",
                     "Co-op Game", "Trivia Game", "Word Game", "Expansion Pack"),
                    ("Meeple Works", "Tabletop Co", "Gambit", "Rook & Pawn", "Dicey"), 32),
    "Art Supplies": (("Sketchbook", "Watercolour Set", "Brush Set", "Easel", "Pencil Set", "Canvas", "Ink Set",
                      "Palette", "Pastel Set", "Marker Set"), ("Atelier", "Brushwork", "Pigmento", "Chroma",
                                                                 "Sketchly"), 24),
    # care
    "Skincare": (("Face Cream", "Cleanser", "Serum", "Lip Balm", "Sunscreen", "Face Mask", "Toner",
                  "Body Lotion", "Hand Cream", "Eye Cream"), ("Bloom", "Dermis", "Petal", "Purelab", "Saltwater"), 26),
    "Fitness": (("Yoga Mat", "Kettlebell", "Resistance Bands", "Jump Rope", "Dumbbell Set", "Pull-Up Bar",
                 "Exercise Ball", "Ab Roller", "Yoga Block", "Gym Bag"), ("Corefit", "Ironclad", "Flexa", "Zenmove",
                                                                         "Pulse"), 38),
    "Pet Supplies": (("Dog Bed", "Cat Tree", "Leash", "Pet Bowl", "Chew Toy", "Grooming Brush", "Pet Carrier",
                      "Scratching Post", "Treat Jar", "Collar"), ("Pawsome", "Whisker", "Barkley", "Furrow",
                                                                  "Tailspin"), 30),
    "Garden": (("Watering Can", "Pruning Shears", "Seed Kit", "Raised Bed", "Garden Gloves", "Trowel",
                "Hose Reel", "Bird Feeder", "Compost Bin", "Plant Pot"), ("Greenthumb", "Rootstock", "Fernwood",
                                                                          "Potager", "Bloomfield"), 34),
}
ADJECTIVES = ("Classic", "Modern", "Compact", "Everyday", "Premium", "Rustic", "Nordic", "Handmade", "Deluxe",
              "Lightweight", "Vintage", "Essential")

# Taste clusters: liked categories (the first is the main one) and a human name for summaries.
CLUSTERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("home cook", ("Kitchen", "Baking", "Tableware")),
    ("coffee lover", ("Coffee & Tea", "Tableware", "Books")),
    ("host", ("Tableware", "Decor", "Kitchen", "Board Games")),
    ("nest builder", ("Furniture", "Lighting", "Decor")),
    ("sleep lover", ("Bedding", "Lighting", "Skincare")),
    ("camper", ("Camping", "Hiking", "Coffee & Tea")),
    ("hiker", ("Hiking", "Running", "Camping")),
    ("cyclist", ("Cycling", "Running", "Fitness")),
    ("reader", ("Books", "Music", "Coffee & Tea")),
    ("gamer", ("Board Games", "Books", "Art Supplies")),
    ("maker", ("Art Supplies", "Decor", "Music")),
    ("wellness fan", ("Fitness", "Skincare", "Running", "Garden")),
    ("pet & garden person", ("Pet Supplies", "Garden", "Decor")),
)
# Funnel: chance that a viewed item is clicked, a click becomes a cart add, a cart a purchase,
# a purchase gets rated.
P_CLICK, P_CART, P_BUY, P_RATE = 0.45, 0.40, 0.55, 0.45
NOISE = 0.08  # share of views drawn from global popularity (shoppers wander)


@dataclass(frozen=True)
class DemoItem:
    item_id: str
    title: str
    category: str
    price: Decimal
    attributes: dict


@dataclass(frozen=True)
class DemoShopper:
    user_id: str
    clusters: tuple[str, ...]  # taste cluster names, main one first

    @property
    def taste(self) -> str:
        return ", ".join(self.clusters)


@dataclass
class DemoShop:
    seed: int
    scale: float
    now: datetime
    items: list[DemoItem]
    shoppers: list[DemoShopper]
    # Events, columnar; row n is event `event_id(n)`.
    ev_shopper: np.ndarray = field(repr=False)  # index into shoppers
    ev_item: np.ndarray = field(repr=False)  # index into items
    ev_type: np.ndarray = field(repr=False)  # index into EVENT_TYPES (the funnel: view, click, cart, buy, rate)
    ev_value: np.ndarray = field(repr=False)
    ev_seconds_ago: np.ndarray = field(repr=False)  # seconds before `now`

    @property
    def event_prefix(self) -> str:
        return event_prefix(self.seed, self.scale)

    def event_id(self, n: int) -> str:
        return f"{self.event_prefix}{n}"

    def event_timestamp(self, n: int) -> datetime:
        return self.now - timedelta(seconds=float(self.ev_seconds_ago[n]))

    def __len__(self) -> int:
        return len(self.ev_item)


def event_prefix(seed: int, scale: float) -> str:
    """Event ids carry seed and scale, so a rerun recognises its own events (idempotency)."""
    return f"{EVENT_PREFIX}{seed}:{scale:g}:"


def sizes(scale: float) -> tuple[int, int, int]:
    """(items, shoppers, target events) for a scale; at least a small working shop."""
    if not scale > 0:
        raise ValueError("scale must be positive")
    n_items = max(len(CATEGORIES) * 5, round(BASE_ITEMS * scale))
    n_shoppers = max(50, round(BASE_SHOPPERS * scale))
    return n_items, n_shoppers, max(2000, round(BASE_EVENTS * scale))


def generate(*, seed: int = 42, scale: float = 1.0, now: datetime) -> DemoShop:
    rng = np.random.default_rng(seed)
    n_items, n_shoppers, n_target = sizes(scale)
    items, item_cat, item_brand, pop = _items(rng, n_items)
    shoppers, shopper_clusters, shopper_weights = _shoppers(rng, n_shoppers)
    columns = _events(rng, n_target, items, item_cat, item_brand, pop, shopper_clusters, shopper_weights)
    return DemoShop(seed, scale, now, items, shoppers, *columns)


def _items(rng: np.random.Generator, n_items: int):
    names = list(CATEGORIES)
    per_cat = np.full(len(names), n_items // len(names))
    per_cat[: n_items % len(names)] += 1
    items: list[DemoItem] = []
    item_cat, item_brand, pop = [], [], []
    # Categories differ in overall demand too (a gentle power law across categories).
    cat_demand = 1.0 / np.arange(1, len(names) + 1) ** 0.5
    rng.shuffle(cat_demand)
    for c, name in enumerate(names):
        nouns, brands, base_price = CATEGORIES[name]
        combos = [(a, n) for n in nouns for a in ADJECTIVES]
        order = rng.permutation(len(combos))
        # Zipf inside the category: rank r gets 1/r^1.1, ranks assigned at random.
        ranks = rng.permutation(per_cat[c]) + 1
        for k in range(per_cat[c]):
            adjective, noun = combos[order[k % len(combos)]]
            suffix = "" if k < len(combos) else f" {k // len(combos) + 1}"
            b = int(rng.integers(len(brands)))
            tier = 1.0 + 0.35 * b  # brands differ in price level
            price = base_price * tier * float(rng.lognormal(0.0, 0.35))
            price = Decimal(f"{max(2.0, round(price)) - 0.01:.2f}")
            n = len(items) + 1
            items.append(
                DemoItem(
                    item_id=f"{ITEM_PREFIX}{n:04d}",
                    title=f"{brands[b]} {adjective} {noun}{suffix}",
                    category=name,
                    price=price,
                    attributes={"brand": brands[b], "style": adjective.lower()},
                )
            )
            item_cat.append(c)
            item_brand.append(b)
            pop.append(cat_demand[c] * len(names) / ranks[k] ** 1.1)
    pop_arr = np.asarray(pop)
    return items, np.asarray(item_cat), np.asarray(item_brand), pop_arr / pop_arr.sum()


def _shoppers(rng: np.random.Generator, n_shoppers: int):
    # Clusters are not equally common (a mild power law), shoppers have 1-3 of them.
    cluster_p = 1.0 / np.arange(1, len(CLUSTERS) + 1) ** 0.6
    rng.shuffle(cluster_p)
    cluster_p /= cluster_p.sum()
    shoppers, clusters, weights = [], [], []
    for s in range(n_shoppers):
        k = int(rng.choice(3, p=[0.45, 0.38, 0.17])) + 1
        chosen = rng.choice(len(CLUSTERS), size=k, replace=False, p=cluster_p)
        w = np.sort(rng.dirichlet(np.full(k, 2.0)))[::-1]  # the main taste first
        shoppers.append(DemoShopper(f"{SHOPPER_PREFIX}{s + 1:04d}", tuple(CLUSTERS[c][0] for c in chosen)))
        clusters.append(chosen)
        weights.append(w)
    return shoppers, clusters, weights


def _cluster_brands(rng: np.random.Generator) -> np.ndarray:
    """[cluster, category] -> two liked brands (indices): the brand taste inside each category."""
    liked = np.zeros((len(CLUSTERS), len(CATEGORIES), 5), dtype=bool)
    for k in range(len(CLUSTERS)):
        for c in range(len(CATEGORIES)):
            liked[k, c, rng.choice(5, size=2, replace=False)] = True
    return liked


def _events(rng, n_target, items, item_cat, item_brand, pop, shopper_clusters, shopper_weights):
    names = list(CATEGORIES)
    liked = _cluster_brands(rng)
    # Per (cluster, category) item distribution: popularity x brand affinity (liked brands 6x).
    dist: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    for k, (_, cats) in enumerate(CLUSTERS):
        for cat in cats:
            c = names.index(cat)
            idx = np.flatnonzero(item_cat == c)
            w = pop[idx] * np.where(liked[k, c, item_brand[idx]], 6.0, 1.0)
            dist[(k, c)] = (idx, np.cumsum(w) / w.sum())
    cat_weights = {k: np.array([0.55] + [0.45 / (len(cats) - 1)] * (len(cats) - 1)) for k, (_, cats) in
                   enumerate(CLUSTERS)}
    global_cdf = np.cumsum(pop)

    # Activity is heavy-tailed (lognormal); expected events per view ~1.8 with the funnel below,
    # less ~15% for repeated picks inside a session (dropped).
    per_view = (1 + P_CLICK * (1 + P_CART * (1 + P_BUY * (1 + P_RATE)))) * 0.85
    n_shoppers = len(shopper_clusters)
    activity = rng.lognormal(0.0, 0.9, n_shoppers)
    views_per_shopper = np.maximum(3, np.round(activity / activity.sum() * n_target / per_view)).astype(int)

    shop_idx, item_idx, type_idx, values, ago = [], [], [], [], []
    horizon = 86400.0 * DAYS
    for s in range(n_shoppers):
        clusters, w = shopper_clusters[s], shopper_weights[s]
        remaining = int(views_per_shopper[s])
        while remaining > 0:
            n_views = min(remaining, int(rng.integers(2, 9)))
            remaining -= n_views
            k = clusters[rng.choice(len(clusters), p=w)]
            cats = CLUSTERS[k][1]
            c = names.index(cats[rng.choice(len(cats), p=cat_weights[k])])
            idx, cdf = dist[(k, c)]
            picks = idx[np.minimum(np.searchsorted(cdf, rng.random(n_views)), len(idx) - 1)]
            noisy = rng.random(n_views) < NOISE
            if noisy.any():
                picks[noisy] = np.minimum(np.searchsorted(global_cdf, rng.random(noisy.sum())), len(pop) - 1)
            picks = np.unique(picks)
            # Recent days are busier (the shop is growing): density rises towards now.
            start = horizon * (1.0 - np.sqrt(rng.random()))
            t = start
            for i in picks:
                t = max(60.0, t - float(rng.integers(20, 240)))
                funnel = [0]
                if rng.random() < P_CLICK:
                    funnel.append(1)
                    if rng.random() < P_CART:
                        funnel.append(2)
                        if rng.random() < P_BUY:
                            funnel.append(3)
                            if rng.random() < P_RATE:
                                funnel.append(4)
                for step, e in enumerate(funnel):
                    shop_idx.append(s)
                    item_idx.append(i)
                    type_idx.append(e)
                    # Ratings are mostly good for liked brands, mixed otherwise.
                    if e == 4:
                        good = liked[k, item_cat[i], item_brand[i]]
                        values.append(float(rng.choice([3, 4, 5], p=[0.1, 0.4, 0.5]) if good
                                            else rng.choice([1, 2, 3, 4, 5], p=[0.1, 0.2, 0.3, 0.25, 0.15])))
                    else:
                        values.append(1.0)
                    ago.append(max(1.0, t - 5.0 * step))
    return (
        np.asarray(shop_idx, dtype=np.int32),
        np.asarray(item_idx, dtype=np.int32),
        np.asarray(type_idx, dtype=np.int8),
        np.asarray(values, dtype=np.float32),
        np.asarray(ago, dtype=np.float64),
    )
