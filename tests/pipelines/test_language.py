"""The language of text sources, recorded with their extraction (and so per source and chunk)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipelines import language
from pipelines.config import get_settings
from pipelines.extract import extract
from pipelines.language import detect, sample
from pipelines.records import Segment
from pipelines.sources import inspect

SENTENCES = {
    "en": "The harbour master keeps a log of every ship that enters the port after dark.",
    "de": "Der Hafenmeister führt ein Buch über jedes Schiff, das nach Einbruch der Dunkelheit einläuft.",
    "fr": "Le capitaine du port tient un registre de chaque navire qui entre après la tombée de la nuit.",
    "es": "El capitán del puerto lleva un registro de cada barco que entra después del anochecer.",
    "it": "Il capitano del porto tiene un registro di ogni nave che entra dopo il tramonto.",
    "nl": "De havenmeester houdt een logboek bij van elk schip dat na het donker binnenvaart.",
}


@pytest.mark.parametrize("code", sorted(SENTENCES))
def test_a_sentence_is_told_by_its_language(code: str) -> None:
    assert detect(SENTENCES[code]) == code


def test_too_little_text_gets_no_guess() -> None:
    assert detect("12 | 3.4 m") is None and detect("") is None


def test_the_sample_spreads_over_a_long_document() -> None:
    segments = [Segment(text=f"{i:05d} " + "x" * 994) for i in range(100)]
    picked = sample(segments, limit=20_000)
    assert len(picked) <= 20_000 and "00000" in picked and "00095" in picked


def test_text_and_pages_get_their_language_at_extraction(tmp_path: Path) -> None:
    settings = get_settings()
    note = tmp_path / "notiz.md"
    note.write_text("# Hafen\n\n" + SENTENCES["de"] + "\n\n" + SENTENCES["de"].replace("Schiff", "Boot"))
    page = tmp_path / "page.html"
    page.write_text(f"<html><head><title>Port</title></head><body><p>{SENTENCES['fr']}</p></body></html>")
    assert extract(inspect(note, settings), settings).language == "de"
    assert extract(inspect(page, settings), settings).language == "fr"


def test_an_extraction_cached_without_a_language_gets_one_when_read(tmp_path: Path) -> None:
    from pipelines import cache
    from pipelines.records import Extraction

    settings = get_settings()
    note = tmp_path / "note.txt"
    note.write_text(SENTENCES["es"])
    source = inspect(note, settings)
    cache.save(Extraction(source=source, segments=[Segment(text=SENTENCES["es"])], language=None), settings)
    loaded = cache.load(source, settings)
    assert loaded is not None and loaded.cached and loaded.language == "es"


PARAGRAPHS = {
    "en": (
        "The harbour was quiet that winter. Most of the fishing boats stayed tied up along the old "
        "stone quay, and the men who owned them spent their mornings mending nets in the sheds behind "
        "the market. Only the ferry kept its timetable, crossing to the island twice a day whatever "
        "the weather, and the children who lived out there came over on it to go to school. In the "
        "evenings the lamps along the water were lit one by one."
    ),
    "de": (
        "Im Winter war es im Hafen still. Die meisten Fischerboote lagen an der alten Kaimauer fest, "
        "und ihre Besitzer flickten morgens in den Schuppen hinter dem Markt ihre Netze. Nur die Fähre "
        "hielt ihren Fahrplan ein und fuhr bei jedem Wetter zweimal am Tag zur Insel hinüber, und die "
        "Kinder, die dort draußen wohnten, kamen mit ihr in die Schule. Abends wurden die Laternen am "
        "Wasser eine nach der anderen angezündet."
    ),
    "fr": (
        "Cet hiver-là, le port était calme. La plupart des bateaux de pêche restaient amarrés le long "
        "du vieux quai de pierre, et leurs propriétaires passaient la matinée à réparer les filets dans "
        "les hangars derrière le marché. Seul le bac gardait son horaire et traversait vers l'île deux "
        "fois par jour, quel que soit le temps, et les enfants qui habitaient là-bas le prenaient pour "
        "aller à l'école. Le soir, on allumait les lanternes une à une."
    ),
    "es": (
        "Aquel invierno el puerto estaba tranquilo. La mayoría de los barcos de pesca seguían amarrados "
        "junto al viejo muelle de piedra, y sus dueños pasaban las mañanas remendando redes en los "
        "cobertizos detrás del mercado. Solo el transbordador mantenía su horario y cruzaba a la isla "
        "dos veces al día hiciera el tiempo que hiciera, y los niños que vivían allí lo tomaban para ir "
        "a la escuela. Por la noche se encendían los faroles uno tras otro."
    ),
    "ru": (
        "Той зимой в гавани было тихо. Почти все рыбацкие лодки стояли у старой каменной пристани, а "
        "их хозяева по утрам чинили сети в сараях за рынком. Только паром ходил по расписанию и в любую "
        "погоду дважды в день переправлялся на остров, и дети, которые жили там, ездили на нём в школу. "
        "По вечерам фонари вдоль воды зажигали один за другим, и город медленно засыпал. Весной "
        "рыбаки снова вышли в море, и на рынке опять продавали свежую рыбу. Старики сидели на скамейках "
        "у причала и рассказывали друг другу, какой была эта зима."
    ),
    "he": (
        "באותו חורף הנמל היה שקט. רוב סירות הדייג נשארו קשורות לאורך המזח הישן, והבעלים שלהן בילו את "
        "הבקרים בתיקון רשתות במחסנים שמאחורי השוק. רק המעבורת שמרה על לוח הזמנים שלה וחצתה אל האי "
        "פעמיים ביום בכל מזג אוויר, והילדים שגרו שם הגיעו בה לבית הספר. בערבים הדליקו את הפנסים שלאורך "
        "המים אחד אחרי השני, והעיר נרדמה לאט לאט. באביב יצאו הדייגים שוב לים, ובשוק מכרו שוב דגים "
        "טריים. הזקנים ישבו על הספסלים ליד הרציף וסיפרו זה לזה איך היה החורף."
    ),
    "zh": (  # traditional characters: CLD2 says zh-Hant, recorded as zh
        "那年冬天，港口很安靜。大部分漁船都停靠在古老的石頭碼頭旁，船主們每天早上在市場後面的棚子裡修補漁網。"
        "只有渡輪照常行駛，不論天氣如何，每天兩次開往島上，住在島上的孩子們就搭它來上學。"
        "到了晚上，水邊的路燈一盞一盞地亮起來，整個小鎮慢慢地安靜下來，只聽得見海浪拍打岸邊的聲音。"
        "春天來的時候，漁船又一艘一艘地出海了，碼頭上又熱鬧起來，市場裡擺滿了新鮮的魚和蝦。"
        "老人們坐在碼頭旁邊的長椅上，一邊曬太陽，一邊聊著這個冬天發生的事情：誰家的船在暴風雨中壞了，"
        "誰家的孩子考上了城裡的大學，哪一天的雪下得最大。年輕人則忙著把漁網搬上船，準備新一季的捕撈。"
        "學校的老師帶著學生們到海邊散步，告訴他們每一種海鳥的名字，還有潮水為什麼每天漲落兩次。"
        "傍晚，夕陽把整個海面染成金黃色，渡輪慢慢地駛回港口，岸上的人們向船上的朋友揮手。"
        "夜裡，燈塔的光一次又一次地掃過黑暗的海面，為晚歸的漁船指引回家的方向，直到天亮。第二天早上，一切又重新開始。"
    ),
    "ja": (
        "その冬、港は静かだった。ほとんどの漁船は古い石の岸壁につながれたままで、持ち主たちは毎朝、市場の裏の"
        "小屋で網を繕っていた。フェリーだけはどんな天気でも時刻表どおりに一日二回島へ渡り、島に住む子どもたちは"
        "それに乗って学校へ通った。夕方になると、水辺の街灯が一つずつともされ、町はゆっくりと眠りについた。"
        "春が来ると、漁船はまた一隻ずつ海へ出ていき、岸壁はふたたびにぎやかになった。"
        "年寄りたちは岸壁のそばのベンチに座って日なたぼっこをしながら、この冬のできごとを話し合った。"
        "嵐で壊れた船のこと、町の大学に受かった子どものこと、いちばん雪が多かった日のこと。"
        "若い人たちは新しい漁の季節にそなえて、網を船に積みこむのにいそがしかった。学校の先生は"
        "子どもたちを連れて海辺を歩き、海鳥の名前や、潮が一日に二回満ち引きするわけを教えた。"
        "夕方になると、夕日が海をこがね色にそめ、フェリーがゆっくりと港へもどってきた。"
        "夜には灯台の光が暗い海を何度も照らした。"
    ),
}


@pytest.mark.parametrize("code", sorted(PARAGRAPHS))
def test_a_paragraph_is_told_by_cld2(code: str) -> None:
    text = PARAGRAPHS[code]
    assert len(text) >= language.CLD2_MIN_CHARS
    assert language._cld2(text) == code  # the compiled identifier, in py3langid's codes
    assert detect(text) == code


def test_control_characters_do_not_stop_cld2() -> None:
    # text pulled from a PDF can hold control characters and noncharacters, which CLD2 takes
    # for invalid UTF-8 and refuses the whole text for
    text = PARAGRAPHS["de"].replace(". ", ".\x00\x0b\x85\ufdd0\U0010ffff ")
    assert language._cld2(text) == "de"


def test_long_documents_never_load_py3langid() -> None:
    # its model is 120 MB of memory and 0.6 s of a first ingest: only short texts need it
    code = (
        "import sys\n"
        "from tests.pipelines.test_language import PARAGRAPHS\n"
        "from pipelines.language import detect\n"
        "found = {code: detect(text) for code, text in PARAGRAPHS.items()}\n"
        "assert found == {code: code for code in PARAGRAPHS}, found\n"
        "assert not any(name.startswith('py3langid') for name in sys.modules)\n"
        "detect('Der Hafenmeister führt ein Buch über jedes Schiff, das einläuft.')\n"
        "assert 'py3langid' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
