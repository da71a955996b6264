"""Synthetic urban-equipment layers for Libercourt (données synthétiques).

No open data describes Libercourt's street lighting, furniture or green spaces, yet the demo, the
map pages and the tests need layers that *look* right: equipment inside the real commune boundary,
dense around the town hall and thinning out towards the fields of the north and the edges of the
territory. This module invents such layers; every layer says in its description that the data is
synthetic so nobody mistakes it for the town's inventory.

The generator is pure Python (shapely, numpy, pyproj) and deterministic for a seed. Each layer
draws from its own ``random.Random`` stream derived from the seed, so tuning how one layer is drawn
does not reshuffle all the others, and no global random state is ever touched.

The town is built in the order a planner would read it: a few old main roads crossing the
commune, fields/woods and parks reserved as gaps, then a warped residential grid filling the rest,
and finally the equipment that hangs off the streets and parks.
"""

from __future__ import annotations

import itertools
import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer
from shapely import affinity
from shapely.geometry import LineString, Point, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import transform

BOUNDARY_FIXTURE = (
    Path(__file__).resolve().parent.parent / "fixtures" / "territory" / "libercourt-commune.geojson"
)
TOWN_HALL_LONLAT = (3.01054, 50.480422)
DEFAULT_SEED = 62907

LAYER_ORDER = (
    "voirie",
    "eclairage-public",
    "bancs",
    "corbeilles",
    "aires-de-jeux",
    "parcs",
    "arbres",
    "arrets-bus",
    "bornes-verre",
    "bornes-textile",
)

SYNTHETIC_NOTICE = (
    "Données synthétiques générées pour la démonstration : elles ne décrivent pas "
    "le patrimoine réel de la commune."
)

# Independent random streams, one per generation step (see the module docstring).
_STREAMS = {
    name: index
    for index, name in enumerate(
        (
            "layout",
            "mains",
            "parks",
            "park_names",
            "grid",
            "stubs",
            "names",
            "lights",
            "stops",
            "playgrounds",
            "benches",
            "bins",
            "trees",
            "glass",
            "textile",
        )
    )
}


@dataclass(frozen=True)
class DemoFeature:
    ref: str  # visible identifier, like the plate on real equipment, e.g. "EP-0001"
    geom: BaseGeometry  # shapely geometry in EPSG:2154 (Lambert-93, metres)
    properties: dict  # JSON-serialisable attributes (str/int/float/bool only)
    owner: str  # "commune" or "epci" (the CAHC)


@dataclass(frozen=True)
class DemoLayer:
    slug: str
    name: str
    description: str  # French; always says the data is synthetic
    geometry_type: str  # "Point", "LineString" or "Polygon"
    domain: str
    identifier_prefix: str
    attribute_schema: list  # [{"name", "type", "label"}]
    features: list  # list[DemoFeature]


# --------------------------------------------------------------------------------------------
# Names (French)
# --------------------------------------------------------------------------------------------

MAIN_ROAD_NAMES = (
    "Route de Carvin",
    "Rue de la Gare",
    "Route d'Oignies",
    "Rue d'Ostricourt",
    "Route de Leforest",
    "Avenue de la République",
    "Rue d'Évin-Malmaison",
    "Boulevard de la Liberté",
    "Rue de Phalempin",
    "Route de Courrières",
    "Rue de Moncheaux",
    "Route d'Hénin",
)

# Complements ("des Tilleuls") and people ("Victor-Hugo") both read right after a street type.
STREET_NAME_BASES = (
    # people
    "Jean-Jaurès", "Victor-Hugo", "Émile-Zola", "Louis-Pasteur", "Jules-Ferry", "Léon-Gambetta",
    "Léon-Blum", "Jean-Moulin", "Pierre-Curie", "Marie-Curie", "Anatole-France", "Jules-Guesde",
    "Roger-Salengro", "Gabriel-Péri", "Danielle-Casanova", "Pierre-Brossolette", "Paul-Langevin",
    "Jean-Baptiste-Lebas", "Émile-Basly", "Arthur-Lamendin", "Henri-Barbusse", "Romain-Rolland",
    "Paul-Éluard", "Louis-Aragon", "Jacques-Prévert", "Albert-Camus", "George-Sand",
    "Alphonse-Daudet", "Guy-de-Maupassant", "Honoré-de-Balzac", "Alfred-de-Musset",
    "Paul-Verlaine", "Arthur-Rimbaud", "Jean-de-La-Fontaine", "Molière", "Voltaire",
    "Jean-Jacques-Rousseau", "Denis-Diderot", "Charles-Baudelaire", "Gustave-Flaubert",
    "Alexandre-Dumas", "Jules-Verne", "Pierre-de-Ronsard", "Blaise-Pascal", "René-Descartes",
    "André-Ampère", "Édouard-Branly", "Antoine-Lavoisier", "Claude-Bernard", "Louis-Braille",
    "Auguste-Renoir", "Claude-Monet", "Paul-Cézanne", "Édouard-Manet", "Henri-Matisse",
    "Eugène-Delacroix", "Hector-Berlioz", "Georges-Bizet", "Claude-Debussy", "Maurice-Ravel",
    "Frédéric-Chopin", "Mozart", "Édith-Piaf", "Georges-Brassens", "Jacques-Brel", "Jean-Ferrat",
    "Louise-Michel", "Olympe-de-Gouges", "Simone-Veil", "Lucie-Aubrac", "Rosa-Parks",
    "Nelson-Mandela", "Martin-Luther-King", "Salvador-Allende", "Pablo-Picasso", "Pablo-Neruda",
    "Youri-Gagarine", "Jean-Mermoz", "Louis-Blériot", "Roland-Garros",
    "Antoine-de-Saint-Exupéry", "Hélène-Boucher", "Aristide-Briand", "Georges-Clemenceau",
    "Lazare-Carnot", "Condorcet", "Camille-Desmoulins", "Jean-Zay", "Marcel-Cachin",
    "Ambroise-Croizat", "Paul-Vaillant-Couturier", "Pierre-Sémard", "Guy-Môquet",
    "Charles-Péguy", "Paul-Bert", "Jean-Macé", "Ferdinand-Buisson", "Edgar-Quinet",
    "Jules-Michelet", "Marcelin-Berthelot", "des Frères-Lumière", "des Frères-Montgolfier",
    # trees, flowers, birds
    "des Tilleuls", "des Érables", "des Chênes", "des Acacias", "des Bouleaux", "des Peupliers",
    "des Saules", "des Marronniers", "des Charmes", "des Frênes", "des Aulnes", "des Platanes",
    "des Hêtres", "des Sapins", "des Pins", "des Noisetiers", "des Cerisiers", "des Pommiers",
    "des Poiriers", "des Lilas", "des Roses", "des Glycines", "des Bleuets", "des Coquelicots",
    "des Jonquilles", "des Violettes", "des Tulipes", "des Pâquerettes", "des Primevères",
    "des Myosotis", "des Hortensias", "des Mimosas", "des Iris", "des Mésanges", "des Alouettes",
    "des Fauvettes", "des Rossignols", "des Hirondelles", "des Pinsons", "des Merles",
    "des Colombes",
    # places, dates, trades, regions
    "des Écoles", "du Stade", "de l'Église", "du Moulin", "de la Paix", "de la Fraternité",
    "de l'Égalité", "du 8-Mai-1945", "du 11-Novembre-1918", "du 19-Mars-1962", "du 14-Juillet",
    "des Mineurs", "des Cheminots", "du Commerce", "de la Poste", "du Marais", "des Champs",
    "du Bois", "de la Forêt", "des Prés", "du Calvaire", "de la Fontaine", "du Château-d'Eau",
    "des Jardins", "des Vergers", "de la Plaine", "du Pont", "des Sports", "de la Mairie",
    "du Parc", "de la Cité", "des Artisans", "des Tisserands", "des Brasseurs", "des Meuniers",
    "des Forgerons", "du Terril", "de la Fosse", "du Chevalement", "des Corons", "de l'Abbaye",
    "du Prieuré", "du Vivier", "des Étangs", "de la Source", "du Ruisseau", "du Village",
    "de Bretagne", "de Normandie", "de Provence", "d'Alsace", "de Lorraine", "de Picardie",
    "d'Artois", "de Flandre", "du Hainaut", "de Bourgogne", "d'Auvergne", "de Savoie",
)  # fmt: skip

PARK_NAMES = (
    "Square Jean-Moulin",
    "Jardin des Tilleuls",
    "Coulée verte du Marais",
    "Parc du Bois",
    "Square de la Paix",
    "Espace vert des Peupliers",
    "Parc des Sports",
)

STOP_NAMES = (
    "Gare",
    "Église",
    "Collège",
    "Cimetière",
    "Stade",
    "Salle des fêtes",
    "Poste",
    "Groupe scolaire",
    "Cité des Cheminots",
    "Résidence du Parc",
    "Centre culturel",
    "Les Marronniers",
    "Place de la République",
    "Bois",
    "Maison de retraite",
    "Les Peupliers",
    "Zone artisanale",
    "Piscine",
)


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def libercourt_boundary_2154() -> BaseGeometry:
    """Read the commune fixture and return the boundary reprojected to EPSG:2154."""
    data = json.loads(BOUNDARY_FIXTURE.read_text(encoding="utf-8"))
    geom = shape(data["features"][0]["geometry"])
    return transform(_to_2154().transform, geom)


def generate_libercourt_layers(
    boundary: BaseGeometry | None = None, *, seed: int = DEFAULT_SEED
) -> list[DemoLayer]:
    """All demo layers, deterministic for a given seed.

    ``boundary`` defaults to the real commune boundary (EPSG:2154); passing one lets callers reuse a
    boundary they already loaded. The town centre is the real town hall when it lies inside the
    boundary, otherwise the boundary's representative point.
    """
    town = _Town.build(boundary if boundary is not None else libercourt_boundary_2154(), seed)
    _mains(town)
    _parks(town)
    _residential_streets(town)
    _stubs(town)
    _finalise_streets(town)
    # Equipment depends on what came before (benches go by stops and playgrounds, bins by
    # benches, textile banks by glass banks), so build in that order, then list in catalogue order.
    built = {}
    for build in (
        _street_layer,
        _lights_layer,
        _stops_layer,
        _playgrounds_layer,
        _parks_layer,
        _benches_layer,
        _bins_layer,
        _trees_layer,
        _glass_layer,
        _textile_layer,
    ):
        layer = build(town)
        built[layer.slug] = layer
    return [built[slug] for slug in LAYER_ORDER]


# --------------------------------------------------------------------------------------------
# Town model shared by all steps
# --------------------------------------------------------------------------------------------


def _to_2154() -> Transformer:
    return Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)


@dataclass
class _Street:
    geom: LineString
    category: str  # "principale" / "résidentielle"
    stub: bool = False
    name: str = ""


@dataclass
class _Town:
    """Everything later steps need: the boundary, the centre, the gaps and what is built so far."""

    boundary: BaseGeometry
    inner: BaseGeometry  # boundary shrunk by 1 m: centimetre rounding can't push things outside
    centre: tuple[float, float]
    seed: int
    grid_angle: float = 0.0
    gaps: list = field(default_factory=list)  # fields and woods: no residential streets
    mains: list = field(default_factory=list)  # list[LineString]
    parks: list = field(default_factory=list)  # list[Polygon]
    streets: list = field(default_factory=list)  # list[_Street]
    playgrounds: list = field(default_factory=list)  # list[(Polygon, park index or None)]
    stops: list = field(default_factory=list)  # list[(x, y, abri, tx, ty)]
    benches: list = field(default_factory=list)  # list[(x, y)]
    glass: list = field(default_factory=list)  # list[(x, y, tx, ty)]
    _street_tree: shapely.STRtree | None = None
    _street_geoms: np.ndarray | None = None

    @classmethod
    def build(cls, boundary: BaseGeometry, seed: int) -> _Town:
        boundary = shapely.make_valid(boundary)
        inner = boundary.buffer(-1.0)
        shapely.prepare(inner)
        hx, hy = _to_2154().transform(*TOWN_HALL_LONLAT)
        if not inner.contains(Point(hx, hy)):
            rp = inner.representative_point()
            hx, hy = rp.x, rp.y
        town = cls(boundary=boundary, inner=inner, centre=(hx, hy), seed=seed)
        rng = town.rng("layout")
        town.grid_angle = rng.uniform(-0.45, 0.45)
        town.gaps = _gap_zones(town, rng)
        return town

    def rng(self, stream: str) -> random.Random:
        return random.Random(self.seed * 1000 + _STREAMS[stream])  # noqa: S311

    def density(self, x: float, y: float) -> float:
        """How built-up the town is at (x, y), 1 at the town hall.

        A Gaussian around the centre makes the core dense; beyond ~350 m north of the centre the
        commune turns to fields and woods, so the density is damped there.
        """
        dx, dy = x - self.centre[0], y - self.centre[1]
        core = math.exp(-(dx * dx + dy * dy) / (1250.0**2))
        north = min(1.0, max(0.4, 1.0 - max(0.0, dy - 350.0) / 1500.0))
        return core * north

    def contains(self, x: float, y: float) -> bool:
        return bool(shapely.contains_xy(self.inner, x, y))

    def index_streets(self) -> None:
        self._street_geoms = np.array([s.geom for s in self.streets], dtype=object)
        self._street_tree = shapely.STRtree(self._street_geoms)

    def near(self, geom: BaseGeometry, distance: float) -> list[int]:
        """Indices of the streets within ``distance`` of ``geom``."""
        hits = self._street_tree.query(geom, predicate="dwithin", distance=distance)
        return [int(i) for i in hits]

    def touching_pairs(self) -> list[tuple[int, int]]:
        """Pairs of street indices that meet (within 0.5 m, to absorb centimetre rounding)."""
        left, right = self._street_tree.query(self._street_geoms, predicate="dwithin", distance=0.5)
        return list(zip(left.tolist(), right.tolist(), strict=True))

    def street_clearance(self, x: float, y: float, exclude: int | None = None) -> float:
        """Distance from (x, y) to the nearest street other than ``exclude`` (inf beyond 30 m)."""
        pt = Point(x, y)
        dists = [self.streets[i].geom.distance(pt) for i in self.near(pt, 30.0) if i != exclude]
        return min(dists, default=math.inf)

    def main_indices(self) -> list[int]:
        return [i for i, s in enumerate(self.streets) if s.category == "principale"]


class _PointSet:
    """Accepted points of one layer: inside the boundary and at least ``min_dist`` apart."""

    def __init__(self, town: _Town, min_dist: float = 3.5):
        self.town = town
        self.min_dist = min_dist
        self.cell = min_dist
        self.grid: dict[tuple[int, int], list[tuple[float, float]]] = {}
        self.points: list[tuple[float, float]] = []

    def free(self, x: float, y: float, min_dist: float | None = None) -> bool:
        d = self.min_dist if min_dist is None else min_dist
        reach = math.ceil(d / self.cell)
        cx, cy = int(x // self.cell), int(y // self.cell)
        for i in range(cx - reach, cx + reach + 1):
            for j in range(cy - reach, cy + reach + 1):
                for px, py in self.grid.get((i, j), ()):
                    if (px - x) ** 2 + (py - y) ** 2 < d * d:
                        return False
        return True

    def add(self, x: float, y: float, min_dist: float | None = None) -> tuple[float, float] | None:
        x, y = round(x, 2), round(y, 2)
        if not self.town.contains(x, y) or not self.free(x, y, min_dist):
            return None
        self.grid.setdefault((int(x // self.cell), int(y // self.cell)), []).append((x, y))
        self.points.append((x, y))
        return x, y


# --------------------------------------------------------------------------------------------
# Geometry helpers
# --------------------------------------------------------------------------------------------


def _rounded(geom: BaseGeometry) -> BaseGeometry:
    return shapely.set_precision(geom, 0.01)


def _along(line: LineString, s: float, offset: float = 0.0) -> tuple[float, float, float, float]:
    """Point at curvilinear abscissa ``s``, shifted ``offset`` m to the left; plus the tangent."""
    length = line.length
    s = min(max(s, 0.0), length)
    a = line.interpolate(max(s - 2.0, 0.0))
    b = line.interpolate(min(s + 2.0, length))
    tx, ty = b.x - a.x, b.y - a.y
    norm = math.hypot(tx, ty) or 1.0
    tx, ty = tx / norm, ty / norm
    p = line.interpolate(s)
    return p.x - ty * offset, p.y + tx * offset, tx, ty


def _line_parts(geom: BaseGeometry, min_length: float) -> list[LineString]:
    merged = shapely.line_merge(geom) if geom.geom_type == "MultiLineString" else geom
    return [
        part
        for part in shapely.get_parts(merged)
        if part.geom_type == "LineString" and part.length >= min_length
    ]


def _farthest_first(
    xy: np.ndarray, weights: np.ndarray, count: int, first: int, min_dist: float = 0.0
) -> list[int]:
    """Greedy spread-out choice: each pick maximises its distance to the previous picks x weight.

    Used wherever equipment should cover the town evenly (bus stops, collection points) while the
    weight still favours the populated areas.
    """
    chosen = [first]
    dmin = np.hypot(xy[:, 0] - xy[first, 0], xy[:, 1] - xy[first, 1])
    while len(chosen) < count:
        score = np.where(dmin >= min_dist, dmin * weights, -1.0)
        best = int(np.argmax(score))
        if score[best] <= 0:
            break
        chosen.append(best)
        dmin = np.minimum(dmin, np.hypot(xy[:, 0] - xy[best, 0], xy[:, 1] - xy[best, 1]))
    return chosen


def _blob(cx: float, cy: float, area: float, angle: float, rng: random.Random) -> Polygon:
    """A softly irregular rectangle of the given area: parks follow the block grid, loosely."""
    aspect = rng.uniform(1.0, 1.9)
    w = math.sqrt(area * aspect)
    h = area / w
    corners = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
    pts = []
    for k, (x0, y0) in enumerate(corners):
        x1, y1 = corners[(k + 1) % 4]
        pts.append((x0 * rng.uniform(0.85, 1.05), y0 * rng.uniform(0.85, 1.05)))
        t = rng.uniform(0.35, 0.65)
        pts.append((x0 + (x1 - x0) * t, y0 + (y1 - y0) * t))
    poly = Polygon(pts).buffer(6.0, quad_segs=3).buffer(-4.0, quad_segs=3)
    poly = affinity.rotate(poly, angle, origin=(0, 0), use_radians=True)
    poly = affinity.scale(poly, *(2 * [math.sqrt(area / poly.area)]), origin=(0, 0))
    return affinity.translate(poly, cx, cy)


# --------------------------------------------------------------------------------------------
# Street network
# --------------------------------------------------------------------------------------------


def _gap_zones(town: _Town, rng: random.Random) -> list[Polygon]:
    """Two or three fields/woods where the residential grid must stay empty.

    They sit in the middle ring (700-1,500 m out): further away the density already leaves the
    land open, closer in they would punch holes in the centre.
    """
    gaps: list[Polygon] = []
    cx, cy = town.centre
    wanted = rng.randint(2, 3)
    for _ in range(200):
        if len(gaps) >= wanted:
            break
        angle = rng.uniform(0, 2 * math.pi)
        r = rng.uniform(700, 1500)
        x, y = cx + r * math.cos(angle), cy + r * math.sin(angle)
        if not town.contains(x, y) or any(g.distance(Point(x, y)) < 250 for g in gaps):
            continue
        ellipse = affinity.scale(Point(x, y).buffer(1.0, quad_segs=6), *_pair(rng, 170, 330))
        gaps.append(affinity.rotate(ellipse, rng.uniform(0, 180)))
    for g in gaps:
        shapely.prepare(g)
    return gaps


def _pair(rng: random.Random, lo: float, hi: float) -> tuple[float, float]:
    return rng.uniform(lo, hi), rng.uniform(lo, hi)


def _mains(town: _Town) -> None:
    """Four or five old roads crossing the whole commune, gently winding, meeting near the centre.

    They predate the residential grid, so they run at their own angles; one follows the grid to
    act as the high street.
    """
    rng = town.rng("mains")
    cx, cy = town.centre
    count = rng.randint(4, 5)
    for k in range(count):
        theta = town.grid_angle + k * math.pi / count + (rng.uniform(-0.12, 0.12) if k else 0.0)
        dx, dy = math.cos(theta), math.sin(theta)
        # The town hall faces the high street near the crossroads, not in the middle of it.
        near = rng.uniform(35, 70) if k < 2 else rng.uniform(150, 450)
        shift = rng.choice((-1, 1)) * near
        ox, oy = cx - dy * shift, cy + dx * shift
        waves = [(rng.uniform(15, 45), rng.uniform(350, 900), rng.uniform(0, 6.3)) for _ in "ab"]
        pts = []
        for t in np.arange(-4000.0, 4000.0, 40.0):
            wobble = sum(a * math.sin(t / lam + phi) for a, lam, phi in waves)
            pts.append((ox + dx * t - dy * wobble, oy + dy * t + dx * wobble))
        clipped = LineString(pts).intersection(town.inner)
        town.mains.extend(_line_parts(clipped, 250.0))


def _parks(town: _Town) -> None:
    """Four to six parks set aside before the grid is drawn, so streets stop at their edges.

    One large park lies near the centre (the town park); the smaller squares sit in residential
    areas. None may touch a main road or a field zone.
    """
    rng = town.rng("parks")
    cx, cy = town.centre
    safe = town.boundary.buffer(-25.0)
    main_union = shapely.union_all(town.mains)
    count = rng.randint(4, 6)
    areas = [rng.uniform(22000, 34000)] + [rng.uniform(6000, 15000) for _ in range(count - 1)]
    for n, area in enumerate(areas):
        for _ in range(400):
            r = rng.uniform(120, 700) if n == 0 else rng.uniform(200, 1300)
            a = rng.uniform(0, 2 * math.pi)
            x, y = cx + r * math.cos(a), cy + r * math.sin(a)
            if town.density(x, y) < 0.15:
                continue
            angle = town.grid_angle + rng.uniform(-0.2, 0.2)
            poly = _rounded(_blob(x, y, area, angle, rng))
            if (
                safe.contains(poly)
                and poly.distance(main_union) > 25.0
                and all(poly.distance(p) > 120.0 for p in town.parks)
                and not any(poly.intersects(g) for g in town.gaps)
            ):
                town.parks.append(poly)
                break


def _grid_nodes(town: _Town, rng: random.Random) -> np.ndarray:
    """Nodes of the residential grid: varying spacing that widens outwards, a smooth warp so
    streets curve a little, and per-node jitter so no two blocks are alike."""
    cx, cy = town.centre
    ca, sa = math.cos(town.grid_angle), math.sin(town.grid_angle)
    e1, e2 = np.array([ca, sa]), np.array([-sa, ca])
    coords = np.asarray(town.boundary.exterior.coords) - np.array([cx, cy])
    axes = []
    for axis, (lo, hi) in zip((e1, e2), ((90, 150), (70, 115)), strict=True):
        proj = coords @ axis
        positions = [0.0]
        for sign in (1, -1):
            p = 0.0
            while abs(p) < max(abs(proj.min()), abs(proj.max())) + 50:
                p += sign * rng.uniform(lo, hi) * (1 + abs(p) / 2500)
                positions.append(p)
        axes.append(sorted(positions))
    us, vs = (np.array(a) for a in axes)
    uu, vv = np.meshgrid(us, vs, indexing="ij")
    a1, l1, p1, a2, l2, p2 = (
        rng.uniform(12, 30),
        rng.uniform(250, 450),
        rng.uniform(0, 6.3),
        rng.uniform(12, 30),
        rng.uniform(250, 450),
        rng.uniform(0, 6.3),
    )
    jitter = np.array([[(rng.gauss(0, 7), rng.gauss(0, 7)) for _ in vs] for _ in us])
    wu = uu + a2 * np.sin(vv / l2 + p2) + jitter[..., 0]
    wv = vv + a1 * np.sin(uu / l1 + p1) + jitter[..., 1]
    return np.stack([cx + wu * ca - wv * sa, cy + wu * sa + wv * ca], axis=-1)


def _grid_edges(nodes: np.ndarray) -> list[tuple[int, tuple[int, int], tuple[int, int]]]:
    """Edges as (direction, from-node, to-node); direction 0 runs along u, 1 along v."""
    nu, nv = nodes.shape[:2]
    edges = [(0, (i, j), (i + 1, j)) for j in range(nv) for i in range(nu - 1)]
    edges += [(1, (i, j), (i, j + 1)) for i in range(nu) for j in range(nv - 1)]
    return edges


def _parallel_to_main(town: _Town, segment: LineString, main_tree: shapely.STRtree) -> bool:
    """A grid street hugging a main road (close and nearly parallel) would double it: drop it."""
    mid = segment.interpolate(0.5, normalized=True)
    (x0, y0), (x1, y1) = segment.coords[0], segment.coords[-1]
    ex, ey = x1 - x0, y1 - y0
    norm = math.hypot(ex, ey) or 1.0
    for i in main_tree.query(mid, predicate="dwithin", distance=60.0):
        main = town.mains[i]
        _, _, tx, ty = _along(main, main.project(mid))
        if abs(ex * tx + ey * ty) / norm > math.cos(math.radians(35)):
            return True
    return False


def _residential_streets(town: _Town) -> None:
    """Fill the commune with a warped grid whose edges survive with a density-driven probability.

    Edge probability follows the town density (dense core, sparse north and outskirts), is
    lowered along the boundary, and is zero in fields/woods. A single factor scales all
    probabilities, solved by bisection so the whole network lands near a target length whatever
    the seed. Runs of surviving edges along a grid line become streets; missing edges leave dead
    ends and irregular blocks.
    """
    rng = town.rng("grid")
    nodes = _grid_nodes(town, rng)
    edges = _grid_edges(nodes)
    segments = np.array([LineString([nodes[a], nodes[b]]) for _, a, b in edges], dtype=object)
    keepout = shapely.union_all([p.buffer(12.0) for p in town.parks] + town.gaps)
    usable = shapely.difference(shapely.intersection(segments, town.inner), keepout)
    lengths = shapely.length(usable)
    main_tree = shapely.STRtree(town.mains)
    outline = town.boundary.exterior
    prob = np.zeros(len(edges))
    for k, seg in enumerate(segments):
        if lengths[k] < 20.0 or any(seg.intersects(g) for g in town.gaps):
            continue
        if _parallel_to_main(town, seg, main_tree):
            continue
        mid = seg.interpolate(0.5, normalized=True)
        p = 0.12 + 0.95 * town.density(mid.x, mid.y)
        if outline.distance(mid) < 90.0:
            p *= 0.6
        prob[k] = p
    draws = np.array([rng.random() for _ in edges])
    main_length = sum(m.length for m in town.mains)
    # Stubs add ~2.5 km; pruning islands and clipping remove ~6 km.
    target = rng.uniform(56500, 58500) - main_length - 2500.0
    lo, hi = 0.05, 4.0
    for _ in range(40):
        factor = (lo + hi) / 2
        total = lengths[draws < np.minimum(prob * factor, 0.97)].sum()
        lo, hi = (factor, hi) if total < target else (lo, factor)
    keep = draws < np.minimum(prob * (lo + hi) / 2, 0.97)
    _chain_edges(town, rng, nodes, edges, keep, keepout)


def _chain_edges(
    town: _Town,
    rng: random.Random,
    nodes: np.ndarray,
    edges: list,
    keep: np.ndarray,
    keepout: BaseGeometry,
) -> None:
    """Turn runs of kept edges along each grid line into streets, renamed every few blocks."""
    nu, nv = nodes.shape[:2]
    kept = {(d, a): True for (d, a, _), k in zip(edges, keep, strict=True) if k}
    lines = [(0, [(i, j) for i in range(nu)]) for j in range(nv)]
    lines += [(1, [(i, j) for j in range(nv)]) for i in range(nu)]
    for direction, line_nodes in lines:
        run: list[tuple[int, int]] = []
        limit = rng.randint(4, 8)
        for a, b in itertools.pairwise(line_nodes):
            if kept.get((direction, a)) and len(run) <= limit:
                run = run or [a]
                run.append(b)
                continue
            _add_residential(town, nodes, run, keepout)
            run = [a, b] if kept.get((direction, a)) else []
            limit = rng.randint(4, 8)
        _add_residential(town, nodes, run, keepout)


def _add_residential(town: _Town, nodes: np.ndarray, run: list, keepout: BaseGeometry) -> None:
    if len(run) < 2:
        return
    line = LineString([nodes[n] for n in run])
    clipped = line.intersection(town.inner).difference(keepout)
    town.streets.extend(_Street(part, "résidentielle") for part in _line_parts(clipped, 30.0))


def _stubs(town: _Town) -> None:
    """Cul-de-sacs into the larger blocks of the denser areas: the 1970s lotissement pattern."""
    rng = town.rng("stubs")
    town.streets = [_Street(m, "principale") for m in town.mains] + town.streets
    town.index_streets()
    keepout = shapely.union_all([p.buffer(12.0) for p in town.parks] + town.gaps)
    added, attempts = 0, 0
    wanted = rng.randint(28, 38)
    while added < wanted and attempts < 800:
        attempts += 1
        idx = rng.randrange(len(town.streets))
        parent = town.streets[idx].geom
        if parent.length < 80:
            continue
        s = rng.uniform(30, parent.length - 30)
        x0, y0, tx, ty = _along(parent, s)
        if town.density(x0, y0) < 0.3:
            continue
        side = rng.choice((-1, 1))
        length = rng.uniform(45, 95)
        bend = rng.uniform(-0.3, 0.3)
        nx, ny = -ty * side, tx * side
        mx, my = x0 + nx * length * 0.5, y0 + ny * length * 0.5
        ex = mx + (nx * math.cos(bend) - ny * math.sin(bend)) * length * 0.5
        ey = my + (nx * math.sin(bend) + ny * math.cos(bend)) * length * 0.5
        stub = LineString([(x0, y0), (mx, my), (ex, ey)])
        if not town.inner.contains(stub) or stub.intersects(keepout):
            continue
        if town.street_clearance(ex, ey, exclude=idx) < 30.0:
            continue
        tail = LineString([(mx, my), (ex, ey)])
        if any(town.streets[i].geom.distance(tail) < 25.0 for i in town.near(tail, 25.0)):
            continue
        town.streets.append(_Street(stub, "résidentielle", stub=True))
        town.index_streets()
        added += 1


def _finalise_streets(town: _Town) -> None:
    """Drop fragments cut off from the network, round coordinates and name every street.

    Clipping by the boundary and the parks can leave short islands of street; a real street
    always connects to the network, so components shorter than 600 m go.
    """
    town.index_streets()
    n = len(town.streets)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in town.touching_pairs():
        parent[find(i)] = find(j)
    sizes: dict[int, float] = {}
    for i, street in enumerate(town.streets):
        sizes[find(i)] = sizes.get(find(i), 0.0) + street.geom.length
    town.streets = [s for i, s in enumerate(town.streets) if sizes[find(i)] >= 600.0]
    for street in town.streets:
        street.geom = _rounded(street.geom)
    town.index_streets()
    _name_streets(town)


def _street_type(town: _Town, index: int, rng: random.Random) -> str:
    """Street type from its shape: dead ends are impasses, short ones allées, outer ones chemins."""
    street = town.streets[index]
    geom = street.geom
    mid = geom.interpolate(0.5, normalized=True)
    ends = [Point(geom.coords[0]), Point(geom.coords[-1])]
    dangling = sum(all(i == index for i in town.near(e, 0.5)) for e in ends)
    if street.stub or (dangling and geom.length < 160):
        return "Impasse"
    if geom.length < 220 and rng.random() < 0.5:
        return "Allée"
    if town.density(mid.x, mid.y) < 0.2:
        return "Chemin"
    if geom.length > 550 and town.density(mid.x, mid.y) > 0.6 and rng.random() < 0.35:
        return "Avenue"
    return "Rue"


def _name_streets(town: _Town) -> None:
    rng = town.rng("names")
    bases = list(STREET_NAME_BASES)
    rng.shuffle(bases)
    used: set[str] = set()
    mains = iter(MAIN_ROAD_NAMES)
    cursor = 0
    for index, street in enumerate(town.streets):
        if street.category == "principale":
            name = next(mains, "")
            if name:
                street.name = name
                used.add(name)
                continue
        kind = _street_type(town, index, rng)
        # Prefer an unused name; once every base is taken, reuse bases with another type.
        kinds = (kind, *(k for k in ("Rue", "Allée", "Impasse", "Chemin") if k != kind))
        for attempt in range(len(bases) * len(kinds)):
            base = bases[(cursor + attempt) % len(bases)]
            candidate = f"{kinds[attempt // len(bases)]} {base}"
            if candidate not in used:
                break
        cursor = (cursor + attempt + 1) % len(bases)
        street.name = candidate
        used.add(candidate)


def _street_layer(town: _Town) -> DemoLayer:
    features = [
        DemoFeature(
            ref=f"VOIE-{n:03d}",
            geom=street.geom,
            properties={
                "nom": street.name,
                "categorie": street.category,
                "longueur_m": round(street.geom.length),
            },
            owner="commune",
        )
        for n, street in enumerate(town.streets, start=1)
    ]
    return DemoLayer(
        slug="voirie",
        name="Voies communales",
        description="Réseau des voies communales de Libercourt (axes principaux et rues "
        "résidentielles). " + SYNTHETIC_NOTICE,
        geometry_type="LineString",
        domain="voirie",
        identifier_prefix="VOIE",
        attribute_schema=[
            _attr("nom", "string", "Nom de la voie"),
            _attr("categorie", "string", "Catégorie"),
            _attr("longueur_m", "integer", "Longueur (m)"),
        ],
        features=features,
    )


def _attr(name: str, kind: str, label: str) -> dict:
    return {"name": name, "type": kind, "label": label}


# --------------------------------------------------------------------------------------------
# Street lighting
# --------------------------------------------------------------------------------------------


def _light_style(rng: random.Random, main: bool) -> dict:
    """A street is usually equipped in one go, so type, height and year are drawn per street."""
    if main:
        kind = "lanterne" if rng.random() < 0.9 else "projecteur"
        height = rng.choice((8.0, 9.0, 10.0))
    else:
        kind = rng.choices(("lanterne", "boule", "projecteur"), (0.62, 0.33, 0.05))[0]
        height = {"lanterne": rng.choice((4.0, 5.0, 6.0)), "boule": rng.choice((3.5, 4.0))}.get(
            kind, 6.0
        )
    return {"type": kind, "hauteur_m": height, "annee_pose": rng.randint(1985, 2025)}


def _light_source(rng: random.Random, year: int, main: bool) -> tuple[str, int]:
    if year >= 2014 or rng.random() < 0.12:  # LED since the mid-2010s, plus a few retrofits
        return "LED", rng.choice((40, 60, 75) if main else (20, 30, 40))
    if rng.random() < 0.7:
        return "SHP", rng.choice((100, 150) if main else (70, 100))
    return "iodures", rng.choice((70, 100, 150))


def _lights_layer(town: _Town) -> DemoLayer:
    """Lamps along every street at a regular step, offset to alternating sides of the carriageway.

    The step is solved from the network length so the town gets about 1,500 lamps whatever the
    seed; main roads are lit more densely. A lamp that would stand on a crossing street is slid
    along its own street instead.
    """
    rng = town.rng("lights")
    target = rng.randint(1460, 1560)
    main_len = sum(s.geom.length for s in town.streets if s.category == "principale")
    res_len = sum(s.geom.length for s in town.streets if s.category != "principale")
    base = min(38.0, max(26.0, (res_len + main_len / 0.8) / target))
    points = _PointSet(town, 3.5)
    features = []
    for index, street in enumerate(town.streets):
        main = street.category == "principale"
        line = street.geom
        count = max(1, round(line.length / (base * (0.8 if main else 1.0))))
        step = line.length / count
        style = _light_style(rng, main)
        for i in range(count):
            offset = (1 if i % 2 == 0 else -1) * rng.uniform(5.0, 8.0)
            placed = None
            for shift in (0.0, step / 4, -step / 4, step / 3):
                x, y, _, _ = _along(line, (i + 0.5) * step + shift, offset)
                if town.street_clearance(x, y, exclude=index) >= 4.0:
                    placed = points.add(x, y)
                if placed:
                    break
            if not placed:
                continue
            year = style["annee_pose"]
            if rng.random() < 0.12:  # lamps replaced after an accident or a failure
                year = rng.randint(year, 2025)
            source, power = _light_source(rng, year, main)
            features.append(
                (
                    Point(placed),
                    {
                        "voie": street.name,
                        "type": style["type"],
                        "hauteur_m": style["hauteur_m"],
                        "puissance_w": power,
                        "source": source,
                        "annee_pose": year,
                    },
                )
            )
    return DemoLayer(
        slug="eclairage-public",
        name="Points lumineux (éclairage public)",
        description="Candélabres et points lumineux de l'éclairage public communal. "
        + SYNTHETIC_NOTICE,
        geometry_type="Point",
        domain="eclairage-public",
        identifier_prefix="EP",
        attribute_schema=[
            _attr("voie", "string", "Voie"),
            _attr("type", "string", "Type de luminaire"),
            _attr("hauteur_m", "number", "Hauteur du mât (m)"),
            _attr("puissance_w", "integer", "Puissance (W)"),
            _attr("source", "string", "Source lumineuse"),
            _attr("annee_pose", "integer", "Année de pose"),
        ],
        features=_features("EP", 4, features, "commune"),
    )


def _features(prefix: str, width: int, items: list, owner: str) -> list[DemoFeature]:
    return [
        DemoFeature(ref=f"{prefix}-{n:0{width}d}", geom=geom, properties=props, owner=owner)
        for n, (geom, props) in enumerate(items, start=1)
    ]


# --------------------------------------------------------------------------------------------
# Bus stops
# --------------------------------------------------------------------------------------------


def _stops_layer(town: _Town) -> DemoLayer:
    """Ten to fourteen stop pairs on the main roads, one on each side, slightly staggered.

    Positions are spread out along the main roads with a farthest-first choice weighted by
    density, starting at the town hall ("Mairie"), so stops serve the populated areas evenly.
    """
    rng = town.rng("stops")
    candidates = []  # (street index, pair of stops)
    for idx in town.main_indices():
        line = town.streets[idx].geom
        for s in np.arange(60.0, line.length - 60.0, 25.0):
            pair = _stop_pair(town, idx, float(s))
            if pair is not None:
                candidates.append((idx, pair))
    xy = np.array([np.mean([p[:2] for p in pair], axis=0) for _, pair in candidates])
    weights = np.array([(0.25 + town.density(x, y)) * rng.uniform(0.85, 1.15) for x, y in xy])
    first = int(np.argmin(np.hypot(xy[:, 0] - town.centre[0], xy[:, 1] - town.centre[1])))
    order = _farthest_first(xy, weights, rng.randint(11, 14), first, min_dist=250.0)
    points = _PointSet(town, 10.0)
    names = list(STOP_NAMES)
    rng.shuffle(names)
    names.insert(0, "Mairie")  # the stop closest to the town hall
    items = []
    for name, pos in zip(names, order, strict=False):
        shelter = rng.random() < (0.8 if town.density(*xy[pos]) > 0.5 else 0.45)
        for x, y, tx, ty in candidates[pos][1]:
            placed = points.add(x, y)
            town.stops.append((placed[0], placed[1], shelter, tx, ty))
            items.append((Point(placed), {"nom": name, "abri": shelter}))
    return DemoLayer(
        slug="arrets-bus",
        name="Arrêts de bus",
        description="Arrêts du réseau de bus sur les axes principaux, un de chaque côté de la "
        "voie. " + SYNTHETIC_NOTICE,
        geometry_type="Point",
        domain="mobilier-urbain",
        identifier_prefix="ARRET",
        attribute_schema=[
            _attr("nom", "string", "Nom de l'arrêt"),
            _attr("abri", "boolean", "Abri"),
        ],
        features=_features("ARRET", 2, items, "commune"),
    )


def _stop_pair(town: _Town, idx: int, s: float) -> list | None:
    line = town.streets[idx].geom
    pair = [_along(line, s - 12.0, 7.0), _along(line, s + 12.0, -7.0)]
    pair = [(round(x, 2), round(y, 2), tx, ty) for x, y, tx, ty in pair]  # as _PointSet stores
    for x, y, _, _ in pair:
        if not town.contains(x, y) or town.street_clearance(x, y, exclude=idx) < 6.0:
            return None
    return pair


# --------------------------------------------------------------------------------------------
# Parks and playgrounds
# --------------------------------------------------------------------------------------------


def _park_names(town: _Town) -> list[str]:
    """The park closest to the town hall is the town park; the others take names from a list."""
    rng = town.rng("park_names")
    names = list(PARK_NAMES)
    rng.shuffle(names)
    hall = Point(town.centre)
    nearest = min(range(len(town.parks)), key=lambda i: town.parks[i].distance(hall))
    return ["Parc de la Mairie" if i == nearest else names.pop() for i in range(len(town.parks))]


def _parks_layer(town: _Town) -> DemoLayer:
    names = _park_names(town)
    items = [
        (park, {"nom": name, "surface_m2": round(park.area)})
        for park, name in zip(town.parks, names, strict=True)
    ]
    return DemoLayer(
        slug="parcs",
        name="Parcs et espaces verts",
        description="Parcs, squares et espaces verts publics entretenus par la commune. "
        + SYNTHETIC_NOTICE,
        geometry_type="Polygon",
        domain="espaces-verts",
        identifier_prefix="PARC",
        attribute_schema=[
            _attr("nom", "string", "Nom"),
            _attr("surface_m2", "integer", "Surface (m²)"),
        ],
        features=_features("PARC", 2, items, "commune"),
    )


def _rect(cx: float, cy: float, area: float, angle: float, aspect: float) -> Polygon:
    w = math.sqrt(area * aspect)
    h = area / w
    box = Polygon([(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)])
    return affinity.translate(affinity.rotate(box, angle, origin=(0, 0), use_radians=True), cx, cy)


def _playground_in_park(town: _Town, park: Polygon, rng: random.Random) -> Polygon | None:
    room = park.buffer(-6.0)
    minx, miny, maxx, maxy = room.bounds
    for _ in range(200):
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        angle = town.grid_angle + rng.uniform(-0.3, 0.3)
        rect = _rounded(_rect(x, y, rng.uniform(500, 1400), angle, rng.uniform(1.0, 1.8)))
        if room.contains(rect) and all(rect.distance(p) > 15 for p, _ in town.playgrounds):
            return rect
    return None


def _playground_in_block(town: _Town, rng: random.Random) -> Polygon | None:
    """A small playground inside a residential block, set back from the surrounding streets."""
    keepout = shapely.union_all([p.buffer(10.0) for p in town.parks] + town.gaps)
    for _ in range(400):
        idx = rng.randrange(len(town.streets))
        line = town.streets[idx].geom
        x, y, _, _ = _along(line, rng.uniform(0, line.length), rng.choice((-1, 1)) * 32.0)
        if town.density(x, y) < 0.3:
            continue
        angle = town.grid_angle + rng.uniform(-0.3, 0.3)
        rect = _rounded(_rect(x, y, rng.uniform(320, 900), angle, rng.uniform(1.0, 1.6)))
        if (
            town.inner.contains(rect)
            and not rect.intersects(keepout)
            and all(rect.distance(p) > 200 for p, _ in town.playgrounds)
            and all(town.streets[i].geom.distance(rect) > 10.0 for i in town.near(rect, 12.0))
        ):
            return rect
    return None


def _playgrounds_layer(town: _Town) -> DemoLayer:
    """One playground per park (two in the largest), the rest in residential blocks."""
    rng = town.rng("playgrounds")
    wanted = rng.randint(7, 9)
    largest = max(range(len(town.parks)), key=lambda i: town.parks[i].area)
    for i, park in enumerate(town.parks):
        for _ in range(2 if i == largest else 1):
            rect = _playground_in_park(town, park, rng)
            if rect is not None:
                town.playgrounds.append((rect, i))
    while len(town.playgrounds) < wanted:
        rect = _playground_in_block(town, rng)
        if rect is None:
            break
        town.playgrounds.append((rect, None))
    names = _park_names(town)
    items = []
    seen: set[str] = set()
    for rect, park_index in town.playgrounds:
        if park_index is not None:
            where = names[park_index]
        else:
            hits = town.near(rect, 60.0)
            where = min((town.streets[i] for i in hits), key=lambda s: s.geom.distance(rect)).name
        ages = rng.choice(((2, 8), (3, 10), (6, 14), (2, 12)))
        label = "Aire de jeux"
        if where in seen:  # the second playground of a park is the toddlers' one
            label, ages = "Aire des tout-petits", (1, 5)
        seen.add(where)
        items.append(
            (
                rect,
                {
                    "nom": f"{label} – {where}",
                    "age_min": ages[0],
                    "age_max": ages[1],
                    "nb_jeux": max(3, min(12, round(rect.area / 110 + rng.uniform(-1, 1)))),
                },
            )
        )
    return DemoLayer(
        slug="aires-de-jeux",
        name="Aires de jeux",
        description="Aires de jeux pour enfants, dans les parcs et les quartiers résidentiels. "
        + SYNTHETIC_NOTICE,
        geometry_type="Polygon",
        domain="espaces-verts",
        identifier_prefix="AJ",
        attribute_schema=[
            _attr("nom", "string", "Nom"),
            _attr("age_min", "integer", "Âge minimum"),
            _attr("age_max", "integer", "Âge maximum"),
            _attr("nb_jeux", "integer", "Nombre de jeux"),
        ],
        features=_features("AJ", 2, items, "commune"),
    )


# --------------------------------------------------------------------------------------------
# Benches and litter bins
# --------------------------------------------------------------------------------------------


def _ring_points(ring: LineString, count: int, rng: random.Random) -> list[tuple[float, float]]:
    step = ring.length / max(count, 1)
    start = rng.uniform(0, step)
    out = []
    for k in range(count):
        p = ring.interpolate(start + k * step + rng.uniform(-0.2, 0.2) * step)
        out.append((p.x, p.y))
    return out


def _central_sidewalk(town: _Town, rng: random.Random, count: int, radius: float, offset: float):
    """Random sidewalk spots (``offset`` m from the centreline) within ``radius`` of the centre."""
    hall = Point(town.centre)
    near = town.near(hall, radius)
    out = []
    for _ in range(count * 20):
        if len(out) >= count or not near:
            break
        idx = rng.choice(near)
        line = town.streets[idx].geom
        x, y, _, _ = _along(line, rng.uniform(0, line.length), rng.choice((-1, 1)) * offset)
        if math.dist((x, y), town.centre) < radius and town.street_clearance(x, y, idx) > 3.0:
            out.append((x, y))
    return out


def _benches_layer(town: _Town) -> DemoLayer:
    """Benches where people linger: the town-hall square, park paths, around playgrounds, and at
    bus stops without a shelter; parks take whatever the target count leaves."""
    rng = town.rng("benches")
    target = rng.randint(118, 142)
    points = _PointSet(town, 4.0)
    cx, cy = town.centre
    square = [
        (cx + 22 * math.cos(a), cy + 22 * math.sin(a)) for a in np.linspace(0, 2 * math.pi, 7)[:-1]
    ]
    spots = [p for p in square if town.street_clearance(*p) > 4.0]
    spots += _central_sidewalk(town, rng, rng.randint(8, 12), 300.0, 4.5)
    for poly, _ in town.playgrounds:
        spots += _ring_points(poly.buffer(3.0).exterior, rng.randint(2, 4), rng)
    for x, y, shelter, tx, ty in town.stops:
        if not shelter:
            spots.append((x + tx * 3.0, y + ty * 3.0))
    for x, y in spots:
        points.add(x, y)
    remaining = max(0, target - len(points.points))
    perimeter = sum(p.buffer(-7.0).length for p in town.parks)
    for park in town.parks:
        path = park.buffer(-7.0)
        share = round(remaining * path.length / perimeter)
        for x, y in _ring_points(path.exterior, share, rng):
            points.add(x, y)
    materials = ("bois", "bois et métal", "métal", "béton", "composite")
    items = [
        (
            Point(xy),
            {
                "materiau": rng.choices(materials, (0.35, 0.3, 0.15, 0.1, 0.1))[0],
                "annee_pose": rng.randint(1995, 2025),
            },
        )
        for xy in points.points
    ]
    town.benches = list(points.points)
    return DemoLayer(
        slug="bancs",
        name="Bancs publics",
        description="Bancs publics : place de la mairie, parcs, aires de jeux et arrêts de bus. "
        + SYNTHETIC_NOTICE,
        geometry_type="Point",
        domain="mobilier-urbain",
        identifier_prefix="BANC",
        attribute_schema=[
            _attr("materiau", "string", "Matériau"),
            _attr("annee_pose", "integer", "Année de pose"),
        ],
        features=_features("BANC", 3, items, "commune"),
    )


def _bins_layer(town: _Town) -> DemoLayer:
    """Litter bins where litter is produced: next to benches and bus stops, at playgrounds, around
    the town hall, then spread evenly along the main roads up to the target count."""
    rng = town.rng("bins")
    target = rng.randint(225, 270)
    points = _PointSet(town, 4.0)
    spots = []
    for x, y in town.benches:
        if rng.random() < 0.55:
            a = rng.uniform(0, 2 * math.pi)
            spots.append((x + 2.0 * math.cos(a), y + 2.0 * math.sin(a)))
    spots += [(x + tx * 2.0, y + ty * 2.0) for x, y, _, tx, ty in town.stops]
    for poly, _ in town.playgrounds:
        spots += _ring_points(poly.buffer(2.0).exterior, rng.randint(1, 2), rng)
    for park in town.parks:
        spots += _ring_points(park.buffer(-3.0).exterior, rng.randint(2, 4), rng)
    spots += _central_sidewalk(town, rng, rng.randint(8, 12), 350.0, 4.5)
    for x, y in spots:
        points.add(x, y)
    mains = town.main_indices()
    main_len = sum(town.streets[i].geom.length for i in mains)
    step = main_len / max(1, target - len(points.points))
    for phase in (0.5, 0.0, 0.25, 0.75):  # later passes fill in where earlier spots were refused
        for idx in mains:
            line = town.streets[idx].geom
            for k, s in enumerate(np.arange(step * phase, line.length, step)):
                x, y, _, _ = _along(line, float(s), (-1) ** k * 4.5)
                if len(points.points) < target and town.street_clearance(x, y, idx) > 4.0:
                    points.add(x, y, min_dist=step / 3)
    models = ("Vigipirate (sac transparent)", "Cylindrique acier", "Habillage bois", "Béton")
    items = []
    for xy in points.points:
        model = rng.choices(models, (0.45, 0.3, 0.15, 0.1))[0]
        volume = 110 if model == "Béton" else rng.choice((50, 60, 80))
        items.append((Point(xy), {"volume_l": volume, "modele": model}))
    return DemoLayer(
        slug="corbeilles",
        name="Corbeilles de propreté",
        description="Corbeilles de propreté près des bancs, des arrêts de bus et le long des axes "
        "principaux. " + SYNTHETIC_NOTICE,
        geometry_type="Point",
        domain="proprete",
        identifier_prefix="CORB",
        attribute_schema=[
            _attr("volume_l", "integer", "Volume (L)"),
            _attr("modele", "string", "Modèle"),
        ],
        features=_features("CORB", 3, items, "commune"),
    )


# --------------------------------------------------------------------------------------------
# Trees
# --------------------------------------------------------------------------------------------


def _alignment_trees(
    town: _Town, rng: random.Random, points: _PointSet, budget: int
) -> list[tuple]:
    """Tree-lined stretches of the two or three main roads closest to the centre.

    ``budget`` caps them so park trees stay the majority, as in a real inventory.
    """
    hall = Point(town.centre)
    mains = sorted(town.main_indices(), key=lambda i: town.streets[i].geom.distance(hall))
    out = []
    for idx in mains[: rng.randint(2, 3)]:
        line = town.streets[idx].geom
        essence = rng.choice(("tilleul", "platane", "érable"))
        year = rng.randint(1965, 2005)
        middle = line.project(hall)
        half = rng.uniform(180, 300)
        step = rng.uniform(10.0, 13.0)
        for s in np.arange(max(0.0, middle - half), min(line.length, middle + half), step):
            for side in (-1, 1):
                x, y, _, _ = _along(line, float(s), side * 10.0)
                if len(out) >= budget or town.street_clearance(x, y, idx) <= 6.0:
                    continue
                if points.add(x, y):
                    out.append((essence, year))
    return out


def _trees_layer(town: _Town) -> DemoLayer:
    """Mostly park trees (a loose random scatter at least 6 m apart, never in a playground) and a
    few tree-lined stretches of main road near the centre."""
    rng = town.rng("trees")
    target = rng.randint(360, 440)
    points = _PointSet(town, 3.5)
    kinds = _alignment_trees(town, rng, points, round(target * rng.uniform(0.2, 0.3)))
    remaining = max(0, target - len(points.points))
    total_area = sum(p.area for p in town.parks)
    park_essences = (
        "chêne", "bouleau", "charme", "érable", "tilleul", "hêtre", "frêne", "marronnier",
        "saule", "merisier", "pin sylvestre", "aulne",
    )  # fmt: skip
    for park in town.parks:
        room = park.buffer(-3.0).difference(
            shapely.union_all([p.buffer(3.0) for p, _ in town.playgrounds])
        )
        shapely.prepare(room)
        share = round(remaining * park.area / total_area)
        minx, miny, maxx, maxy = room.bounds
        placed = 0
        for _ in range(share * 30):
            if placed >= share:
                break
            x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            if shapely.contains_xy(room, x, y) and points.add(x, y, min_dist=6.0):
                kinds.append((rng.choice(park_essences), rng.randint(1960, 2022)))
                placed += 1
    items = []
    for xy, (essence, year) in zip(points.points, kinds, strict=True):
        height = min(28.0, 2.0 + (2025 - year) * rng.uniform(0.25, 0.4))
        items.append(
            (
                Point(xy),
                {"essence": essence, "hauteur_m": round(height, 1), "annee_plantation": year},
            )
        )
    return DemoLayer(
        slug="arbres",
        name="Arbres",
        description="Arbres des parcs et arbres d'alignement des axes principaux. "
        + SYNTHETIC_NOTICE,
        geometry_type="Point",
        domain="espaces-verts",
        identifier_prefix="ARB",
        attribute_schema=[
            _attr("essence", "string", "Essence"),
            _attr("hauteur_m", "number", "Hauteur (m)"),
            _attr("annee_plantation", "integer", "Année de plantation"),
        ],
        features=_features("ARB", 4, items, "commune"),
    )


# --------------------------------------------------------------------------------------------
# Voluntary drop-off points (CAHC)
# --------------------------------------------------------------------------------------------


def _glass_layer(town: _Town) -> DemoLayer:
    """Glass banks on residential sidewalks, spread farthest-first so every neighbourhood has
    one within walking distance, with a bias towards the denser (more populated) areas."""
    rng = town.rng("glass")
    candidates = []
    for idx, street in enumerate(town.streets):
        if street.category == "principale":
            continue
        line = street.geom
        for s in np.arange(15.0, line.length - 15.0, 30.0):
            x, y, tx, ty = _along(line, float(s), rng.choice((-1, 1)) * 7.0)
            if town.density(x, y) >= 0.15 and town.contains(x, y):
                candidates.append((x, y, tx, ty, idx))
    xy = np.array([(c[0], c[1]) for c in candidates])
    weights = np.array([(0.5 + town.density(x, y)) * rng.uniform(0.9, 1.1) for x, y in xy])
    first = int(np.argmin(np.hypot(xy[:, 0] - town.centre[0], xy[:, 1] - town.centre[1]) / weights))
    wanted = rng.randint(16, 22)
    points = _PointSet(town, 50.0)
    items = []
    for pos in _farthest_first(xy, weights, len(candidates), first, min_dist=150.0):
        if len(items) >= wanted:
            break
        x, y, tx, ty, idx = candidates[pos]
        if town.street_clearance(x, y, idx) < 5.0 or not points.add(x, y):
            continue
        town.glass.append((*points.points[-1], tx, ty))
        buried = town.density(x, y) > 0.6 and rng.random() < 0.6
        props = {
            "volume_m3": 5.0 if buried else rng.choice((3.0, 4.0)),
            "type": "enterrée" if buried else "aérienne",
        }
        items.append((Point(points.points[-1]), props))
    return DemoLayer(
        slug="bornes-verre",
        name="Bornes d'apport volontaire – verre",
        description="Bornes d'apport volontaire pour le verre, gérées par la Communauté "
        "d'agglomération d'Hénin-Carvin (CAHC). " + SYNTHETIC_NOTICE,
        geometry_type="Point",
        domain="collecte-dechets",
        identifier_prefix="BAV",
        attribute_schema=[
            _attr("volume_m3", "number", "Volume (m³)"),
            _attr("type", "string", "Type de borne"),
        ],
        features=_features("BAV", 3, items, "epci"),
    )


def _textile_layer(town: _Town) -> DemoLayer:
    """Textile banks share a few of the glass sites (one stop for residents), chosen spread out."""
    rng = town.rng("textile")
    wanted = rng.randint(6, 8)
    xy = np.array([(g[0], g[1]) for g in town.glass])
    order = _farthest_first(xy, np.ones(len(xy)), len(xy), rng.randrange(len(xy)))
    points = _PointSet(town, 50.0)
    items = []
    for pos in order:
        if len(items) >= wanted:
            break
        x, y, tx, ty = town.glass[pos]
        for side in (1, -1):
            placed = points.add(x + side * 4.0 * tx, y + side * 4.0 * ty)
            if placed:
                operator = "Le Relais" if rng.random() < 0.75 else "Emmaüs"
                items.append((Point(placed), {"operateur": operator}))
                break
    return DemoLayer(
        slug="bornes-textile",
        name="Bornes d'apport volontaire – textile",
        description="Bornes de collecte des textiles, linge et chaussures, gérées par la "
        "Communauté d'agglomération d'Hénin-Carvin (CAHC). " + SYNTHETIC_NOTICE,
        geometry_type="Point",
        domain="collecte-dechets",
        identifier_prefix="BTX",
        attribute_schema=[_attr("operateur", "string", "Opérateur de collecte")],
        features=_features("BTX", 2, items, "epci"),
    )
