#!/usr/bin/env python3
"""Regenerate the bundled sample corpus in samples/corpus/.

This script is documentation as much as a tool: it records exactly how every
file in samples/ was made. It is NOT part of inlet and its tools are NOT
project dependencies. It needs throwaway tools:

  * fpdf2 (pure-Python PDF writer), installed outside the project, e.g.
        python3 -m venv /tmp/pdfvenv && /tmp/pdfvenv/bin/pip install fpdf2==2.8.9
  * espeak-ng and sox (Debian/Ubuntu packages), e.g.
        apt-get install -y espeak-ng sox        # espeak-ng 1.51 was used

Then, from the repository root:

        /tmp/pdfvenv/bin/python samples/make_samples.py

All texts below are in the public domain (US government works, or published
before 1929); the typesetting and the synthetic speech were made by the inlet
project. See SOURCES.md for per-file provenance.

Files written:
  gettysburg_address.pdf           1 page
  declaration_of_independence.pdf  3 pages (excerpt)
  bill_of_rights.pdf               2 pages
  lincoln_second_inaugural.md      UTF-8 Markdown
  jfk_inaugural_excerpt.wav        16 kHz mono 16-bit PCM, espeak-ng voice
"""

import datetime
import os
import subprocess
import tempfile

from fpdf import FPDF

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
# Fixed date so that regenerated PDFs are byte-identical.
FIXED_DATE = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)

# ---------------------------------------------------------------------------
# Texts (ASCII only in the PDFs: the built-in PDF core fonts are Latin-1, so
# the original dashes are written as "--").
# ---------------------------------------------------------------------------

GETTYSBURG = [
    "Four score and seven years ago our fathers brought forth on this "
    "continent, a new nation, conceived in Liberty, and dedicated to the "
    "proposition that all men are created equal.",
    "Now we are engaged in a great civil war, testing whether that nation, or "
    "any nation so conceived and so dedicated, can long endure. We are met on "
    "a great battle-field of that war. We have come to dedicate a portion of "
    "that field, as a final resting place for those who here gave their lives "
    "that that nation might live. It is altogether fitting and proper that we "
    "should do this.",
    "But, in a larger sense, we can not dedicate -- we can not consecrate -- "
    "we can not hallow -- this ground. The brave men, living and dead, who "
    "struggled here, have consecrated it, far above our poor power to add or "
    "detract. The world will little note, nor long remember what we say here, "
    "but it can never forget what they did here. It is for us the living, "
    "rather, to be dedicated here to the unfinished work which they who "
    "fought here have thus far so nobly advanced. It is rather for us to be "
    "here dedicated to the great task remaining before us -- that from these "
    "honored dead we take increased devotion to that cause for which they "
    "gave the last full measure of devotion -- that we here highly resolve "
    "that these dead shall not have died in vain -- that this nation, under "
    "God, shall have a new birth of freedom -- and that government of the "
    "people, by the people, for the people, shall not perish from the earth.",
]

# One list of paragraphs per page.
DECLARATION_PAGES = [
    [
        "In Congress, July 4, 1776.",
        "The unanimous Declaration of the thirteen united States of America,",
        "When in the Course of human events, it becomes necessary for one "
        "people to dissolve the political bands which have connected them with "
        "another, and to assume among the powers of the earth, the separate "
        "and equal station to which the Laws of Nature and of Nature's God "
        "entitle them, a decent respect to the opinions of mankind requires "
        "that they should declare the causes which impel them to the "
        "separation.",
    ],
    [
        "We hold these truths to be self-evident, that all men are created "
        "equal, that they are endowed by their Creator with certain "
        "unalienable Rights, that among these are Life, Liberty and the "
        "pursuit of Happiness. -- That to secure these rights, Governments are "
        "instituted among Men, deriving their just powers from the consent of "
        "the governed, -- That whenever any Form of Government becomes "
        "destructive of these ends, it is the Right of the People to alter or "
        "to abolish it, and to institute new Government, laying its "
        "foundation on such principles and organizing its powers in such "
        "form, as to them shall seem most likely to effect their Safety and "
        "Happiness.",
        "Prudence, indeed, will dictate that Governments long established "
        "should not be changed for light and transient causes; and "
        "accordingly all experience hath shewn, that mankind are more disposed "
        "to suffer, while evils are sufferable, than to right themselves by "
        "abolishing the forms to which they are accustomed. But when a long "
        "train of abuses and usurpations, pursuing invariably the same Object "
        "evinces a design to reduce them under absolute Despotism, it is their "
        "right, it is their duty, to throw off such Government, and to provide "
        "new Guards for their future security. -- Such has been the patient "
        "sufferance of these Colonies; and such is now the necessity which "
        "constrains them to alter their former Systems of Government. The "
        "history of the present King of Great Britain is a history of repeated "
        "injuries and usurpations, all having in direct object the "
        "establishment of an absolute Tyranny over these States. To prove "
        "this, let Facts be submitted to a candid world.",
    ],
    [
        "He has refused his Assent to Laws, the most wholesome and necessary "
        "for the public good.",
        "He has forbidden his Governors to pass Laws of immediate and pressing "
        "importance, unless suspended in their operation till his Assent "
        "should be obtained; and when so suspended, he has utterly neglected "
        "to attend to them.",
        "[...]",
        "He has combined with others to subject us to a jurisdiction foreign "
        "to our constitution, and unacknowledged by our laws; giving his "
        "Assent to their Acts of pretended Legislation:",
        "For Quartering large bodies of armed troops among us:",
        "For cutting off our Trade with all parts of the world:",
        "For imposing Taxes on us without our Consent:",
        "For depriving us in many cases, of the benefits of Trial by Jury:",
        "[...]",
        "We, therefore, the Representatives of the united States of America, "
        "in General Congress, Assembled, appealing to the Supreme Judge of the "
        "world for the rectitude of our intentions, do, in the Name, and by "
        "Authority of the good People of these Colonies, solemnly publish and "
        "declare, That these United Colonies are, and of Right ought to be "
        "Free and Independent States; that they are Absolved from all "
        "Allegiance to the British Crown, and that all political connection "
        "between them and the State of Great Britain, is and ought to be "
        "totally dissolved; and that as Free and Independent States, they have "
        "full Power to levy War, conclude Peace, contract Alliances, establish "
        "Commerce, and to do all other Acts and Things which Independent "
        "States may of right do. And for the support of this Declaration, "
        "with a firm reliance on the protection of divine Providence, we "
        "mutually pledge to each other our Lives, our Fortunes and our sacred "
        "Honor.",
    ],
]

BILL_OF_RIGHTS = [
    ("Amendment I",
     "Congress shall make no law respecting an establishment of religion, or "
     "prohibiting the free exercise thereof; or abridging the freedom of "
     "speech, or of the press; or the right of the people peaceably to "
     "assemble, and to petition the Government for a redress of grievances."),
    ("Amendment II",
     "A well regulated Militia, being necessary to the security of a free "
     "State, the right of the people to keep and bear Arms, shall not be "
     "infringed."),
    ("Amendment III",
     "No Soldier shall, in time of peace be quartered in any house, without "
     "the consent of the Owner, nor in time of war, but in a manner to be "
     "prescribed by law."),
    ("Amendment IV",
     "The right of the people to be secure in their persons, houses, papers, "
     "and effects, against unreasonable searches and seizures, shall not be "
     "violated, and no Warrants shall issue, but upon probable cause, "
     "supported by Oath or affirmation, and particularly describing the place "
     "to be searched, and the persons or things to be seized."),
    ("Amendment V",
     "No person shall be held to answer for a capital, or otherwise infamous "
     "crime, unless on a presentment or indictment of a Grand Jury, except in "
     "cases arising in the land or naval forces, or in the Militia, when in "
     "actual service in time of War or public danger; nor shall any person be "
     "subject for the same offence to be twice put in jeopardy of life or "
     "limb; nor shall be compelled in any criminal case to be a witness "
     "against himself, nor be deprived of life, liberty, or property, without "
     "due process of law; nor shall private property be taken for public use, "
     "without just compensation."),
    None,  # page break
    ("Amendment VI",
     "In all criminal prosecutions, the accused shall enjoy the right to a "
     "speedy and public trial, by an impartial jury of the State and district "
     "wherein the crime shall have been committed, which district shall have "
     "been previously ascertained by law, and to be informed of the nature "
     "and cause of the accusation; to be confronted with the witnesses "
     "against him; to have compulsory process for obtaining witnesses in his "
     "favor, and to have the Assistance of Counsel for his defence."),
    ("Amendment VII",
     "In Suits at common law, where the value in controversy shall exceed "
     "twenty dollars, the right of trial by jury shall be preserved, and no "
     "fact tried by a jury, shall be otherwise re-examined in any Court of "
     "the United States, than according to the rules of the common law."),
    ("Amendment VIII",
     "Excessive bail shall not be required, nor excessive fines imposed, nor "
     "cruel and unusual punishments inflicted."),
    ("Amendment IX",
     "The enumeration in the Constitution, of certain rights, shall not be "
     "construed to deny or disparage others retained by the people."),
    ("Amendment X",
     "The powers not delegated to the United States by the Constitution, nor "
     "prohibited by it to the States, are reserved to the States "
     "respectively, or to the people."),
]

LINCOLN_MD = """\
# Second Inaugural Address

*Abraham Lincoln, delivered at the U.S. Capitol, Washington, D.C., March 4, 1865.*

Public-domain text (1865), transcribed as a sample file for the inlet project.

Fellow-Countrymen:

At this second appearing to take the oath of the Presidential office there is
less occasion for an extended address than there was at the first. Then a
statement somewhat in detail of a course to be pursued seemed fitting and
proper. Now, at the expiration of four years, during which public declarations
have been constantly called forth on every point and phase of the great
contest which still absorbs the attention and engrosses the energies of the
nation, little that is new could be presented. The progress of our arms, upon
which all else chiefly depends, is as well known to the public as to myself,
and it is, I trust, reasonably satisfactory and encouraging to all. With high
hope for the future, no prediction in regard to it is ventured.

On the occasion corresponding to this four years ago all thoughts were
anxiously directed to an impending civil war. All dreaded it, all sought to
avert it. While the inaugural address was being delivered from this place,
devoted altogether to saving the Union without war, insurgent agents were in the
city seeking to destroy it without war—seeking to dissolve the Union and
divide effects by negotiation. Both parties deprecated war, but one of them
would make war rather than let the nation survive, and the other would accept
war rather than let it perish, and the war came.

One-eighth of the whole population were colored slaves, not distributed
generally over the Union, but localized in the southern part of it. These
slaves constituted a peculiar and powerful interest. All knew that this
interest was somehow the cause of the war. To strengthen, perpetuate, and
extend this interest was the object for which the insurgents would rend the
Union even by war, while the Government claimed no right to do more than to
restrict the territorial enlargement of it. Neither party expected for the war
the magnitude or the duration which it has already attained. Neither
anticipated that the cause of the conflict might cease with or even before the
conflict itself should cease. Each looked for an easier triumph, and a result
less fundamental and astounding. Both read the same Bible and pray to the same
God, and each invokes His aid against the other. It may seem strange that any
men should dare to ask a just God's assistance in wringing their bread from
the sweat of other men's faces, but let us judge not, that we be not judged.
The prayers of both could not be answered. That of neither has been answered
fully. The Almighty has His own purposes. “Woe unto the world because of
offenses; for it must needs be that offenses come, but woe to that man by whom
the offense cometh.” If we shall suppose that American slavery is one of those
offenses which, in the providence of God, must needs come, but which, having
continued through His appointed time, He now wills to remove, and that He
gives to both North and South this terrible war as the woe due to those by
whom the offense came, shall we discern therein any departure from those
divine attributes which the believers in a living God always ascribe to Him?
Fondly do we hope, fervently do we pray, that this mighty scourge of war may
speedily pass away. Yet, if God wills that it continue until all the wealth
piled by the bondsman's two hundred and fifty years of unrequited toil shall
be sunk, and until every drop of blood drawn with the lash shall be paid by
another drawn with the sword, as was said three thousand years ago, so still
it must be said “the judgments of the Lord are true and righteous
altogether.”

With malice toward none, with charity for all, with firmness in the right as
God gives us to see the right, let us strive on to finish the work we are in,
to bind up the nation's wounds, to care for him who shall have borne the
battle and for his widow and his orphan, to do all which may achieve and
cherish a just and lasting peace among ourselves and with all nations.
"""

# John F. Kennedy, Inaugural Address, January 20, 1961 (two sentences).
JFK_TEXT = (
    "And so, my fellow Americans: ask not what your country can do for you, "
    "ask what you can do for your country. "
    "My fellow citizens of the world: ask not what America will do for you, "
    "but what together we can do for the freedom of man."
)
# Voice/speed chosen by trial against inlet's bundled faster-whisper model:
# with "-v en-us" (any speed 130-150, with or without "-g 5" word gaps) the
# model hears "ask out"/"ask that" instead of "ask not"; "-v en-gb -s 140/150"
# and other British voices give "citizens on the world"; "-v en-us+f3" gives
# "freedom of men". "-v en-gb -s 145" transcribed word for word.
ESPEAK_ARGS = ["-v", "en-gb", "-s", "145"]


# ---------------------------------------------------------------------------
class SamplePDF(FPDF):
    """Letter-size PDF with a small centred footer on every page."""

    numbered = False

    def footer(self):
        self.set_y(-18)
        self.set_font("Times", "I", 9)
        text = "Public-domain text. Typeset for the inlet sample corpus."
        if self.numbered:
            text = f"Page {self.page_no()} of {{nb}}. " + text
        self.cell(0, 5, text, align="C")


def new_pdf(title, subject, numbered=False):
    pdf = SamplePDF(format="Letter")
    pdf.numbered = numbered
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_title(title)
    pdf.set_subject(subject)
    pdf.set_author("inlet project (public-domain text)")
    pdf.set_creator("inlet samples/make_samples.py (fpdf2)")
    pdf.set_margins(25, 25, 25)
    pdf.set_auto_page_break(True, margin=25)
    return pdf


def heading(pdf, text, size=16):
    pdf.set_font("Times", "B", size)
    pdf.multi_cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)


def para(pdf, text, size=12):
    pdf.set_font("Times", "", size)
    pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)


def make_gettysburg(path):
    pdf = new_pdf("The Gettysburg Address", "Abraham Lincoln, 19 November 1863")
    pdf.add_page()
    heading(pdf, "The Gettysburg Address")
    pdf.set_font("Times", "I", 11)
    pdf.multi_cell(0, 6, "Abraham Lincoln, Soldiers' National Cemetery, "
                   "Gettysburg, Pennsylvania, November 19, 1863 (Bliss copy)",
                   new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for p in GETTYSBURG:
        para(pdf, p)
    pdf.output(path)


def make_declaration(path):
    pdf = new_pdf("The Declaration of Independence (excerpt)",
                  "United States Declaration of Independence, 4 July 1776",
                  numbered=True)
    for i, page in enumerate(DECLARATION_PAGES, start=1):
        pdf.add_page()
        if i == 1:
            heading(pdf, "The Declaration of Independence (excerpt)")
        for p in page:
            para(pdf, p)
    pdf.output(path)


def make_bill_of_rights(path):
    pdf = new_pdf("The Bill of Rights",
                  "Amendments I-X to the Constitution of the United States",
                  numbered=True)
    pdf.add_page()
    heading(pdf, "The Bill of Rights")
    pdf.set_font("Times", "I", 11)
    pdf.multi_cell(0, 6, "The first ten Amendments to the Constitution of the "
                   "United States, ratified December 15, 1791",
                   new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for item in BILL_OF_RIGHTS:
        if item is None:
            pdf.add_page()
            continue
        title, text = item
        heading(pdf, title, size=13)
        para(pdf, text)
    pdf.output(path)


def make_wav(path):
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "raw.wav")
        # espeak-ng writes 22050 Hz mono 16-bit; sox resamples to 16 kHz.
        subprocess.run(["espeak-ng", *ESPEAK_ARGS, "-w", raw, JFK_TEXT],
                       check=True)
        # -D (no dither) keeps the output byte-identical between runs.
        subprocess.run(["sox", "-D", raw, "-r", "16000", "-c", "1", "-b", "16",
                        path], check=True)


def main():
    make_gettysburg(os.path.join(HERE, "gettysburg_address.pdf"))
    make_declaration(os.path.join(HERE, "declaration_of_independence.pdf"))
    make_bill_of_rights(os.path.join(HERE, "bill_of_rights.pdf"))
    with open(os.path.join(HERE, "lincoln_second_inaugural.md"), "w",
              encoding="utf-8", newline="\n") as f:
        f.write(LINCOLN_MD)
    make_wav(os.path.join(HERE, "jfk_inaugural_excerpt.wav"))
    print("wrote samples to", HERE)


if __name__ == "__main__":
    main()
