"""A category's extra questions: their definition checked, the answers typed and checked on
every channel (form without JavaScript, API, service), shown only to who sees the contacts."""

import json
import re

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from reports.models import Report
from routing.questions import answers_clean, questions_check
from tests.images import checked_jpeg, jpeg
from tests.points import TOWN_HALL

pytestmark = pytest.mark.django_db

QUESTIONS = [
    {
        "name": "volume",
        "label": "Quel volume ?",
        "type": "choice",
        "choices": ["Petit", "Gros"],
        "required": True,
    },
    {"name": "dangerous", "label": "Produits dangereux ?", "type": "boolean"},
    {"name": "company", "label": "Entreprise", "type": "text", "required": False},
]


@pytest.mark.parametrize(
    ("questions", "reason"),
    [
        ({"name": "x"}, "liste"),
        ([{"name": "Volume", "label": "x", "type": "text"}], "minuscules"),
        ([{"name": "v", "label": "", "type": "text"}], "libellé"),
        ([{"name": "v", "label": "x", "type": "date"}], "type"),
        ([{"name": "v", "label": "x", "type": "choice", "choices": ["seul"]}], "deux choix"),
        ([{"name": "v", "label": "x", "type": "text", "choices": ["a", "b"]}], "choices"),
        ([{"name": "v", "label": "x", "type": "text", "required": "oui"}], "required"),
        ([{"name": "v", "label": "x", "type": "text", "hint": "?"}], "inconnues"),
        ([{"name": "v", "label": "x", "type": "text"}] * 2, "pris"),
    ],
)
def test_a_bad_question_is_refused_with_its_reason(categories, questions, reason):
    with pytest.raises(ValidationError, match=reason):
        questions_check(questions)
    category = categories["signalisation"]
    category.extra_questions = questions
    with pytest.raises(ValidationError) as refused:
        category.full_clean()
    assert "extra_questions" in refused.value.message_dict


def test_answers_are_typed_and_every_problem_named():
    questions = questions_check(QUESTIONS)
    assert answers_clean(questions, {"volume": "Gros", "dangerous": "non", "company": " BTP "}) == {
        "volume": "Gros",
        "dangerous": False,
        "company": "BTP",
    }
    assert answers_clean(questions, {"volume": "Petit", "dangerous": True}) == {
        "volume": "Petit",
        "dangerous": True,
    }
    with pytest.raises(ValidationError) as refused:
        answers_clean(
            questions, {"dangerous": "peut-être", "company": "x" * 501, "colour": "rouge"}
        )
    problems = refused.value.message_dict["answers"]
    assert problems == [
        "Question inconnue : colour.",
        "Répondez à la question « Quel volume ? ».",
        "« Produits dangereux ? » : répondez oui ou non.",
        "« Entreprise » : au plus 500 caractères.",
    ]
    with pytest.raises(ValidationError, match="choisissez parmi Petit, Gros"):
        answers_clean(questions, {"volume": "Énorme"})
    with pytest.raises(ValidationError, match="objet"):
        answers_clean(questions, ["Gros"])


def test_the_demo_catalogue_asks_its_questions(categories):
    volume = categories["depot-sauvage"].extra_questions[0]
    assert volume["name"] == "volume" and volume["required"] is True
    assert categories["signalisation"].extra_questions == []


def test_the_form_asks_the_questions_and_stores_typed_answers(client, demo, categories):
    """Without JavaScript: the tree's question is a group of radios with its legend; left
    unanswered it is named at the top and beside it; answered, it is stored typed and shown to
    the author, not to the public."""
    form = {
        "category": "arbre-dangereux",
        "action": "submit",
        "lon": "3.01054",
        "lat": "50.480422",
        "description": "Branche cassée au-dessus du trottoir.",
        "contact_email": "camille@example.org",
        "privacy": "on",
    }

    def photo():
        return SimpleUploadedFile("arbre.jpg", jpeg(), content_type="image/jpeg")

    page = client.post("/signaler/", {**form, "photos": [photo()]}).content.decode()
    assert re.search(r'<fieldset class="choices question" id="id_q_blocking"', page)
    assert "<legend>L&#x27;arbre ou la branche gêne-t-il le passage ?" in page
    assert '<a href="#id_q_blocking">' in page  # the summary links to the group
    assert 'id="id_q_blocking_error"' in page and not Report.objects.exists()

    sent = client.post("/signaler/", {**form, "q_blocking": "non", "photos": [photo()]})
    assert sent.status_code == 302
    report = Report.objects.get()
    assert report.answers == {"blocking": False}
    own = client.get(sent["Location"]).content.decode()  # the tracking link with its key
    assert "Vos réponses" in own and "gêne-t-il le passage ?</dt><dd>non</dd>" in own
    public = client.get(f"/signalements/{report.reference}/").content.decode()
    assert "Vos réponses" not in public and "gêne-t-il" not in public


def test_the_api_checks_the_answers_and_gives_them_back_privately(client, demo):
    body = {
        "category": "depot-sauvage",
        "lon": TOWN_HALL.x,
        "lat": TOWN_HALL.y,
        "description": "Des meubles.",
        "contact_email": "camille@example.org",
    }

    def photo():
        return SimpleUploadedFile("d.jpg", jpeg(), content_type="image/jpeg")

    # multipart (a photo is required here): answers as answers.<name>
    refused = client.post("/api/reports/", {**body, "answers.volume": "Énorme", "photos": photo()})
    assert refused.status_code == 422
    assert "choisissez parmi" in refused.json()["errors"]["answers"][0]
    created = client.post(
        "/api/reports/",
        {**body, "answers.volume": "Quelques sacs", "answers.dangerous": "non", "photos": photo()},
    )
    assert created.status_code == 201, created.json()
    assert created.json()["answers"] == {"volume": "Quelques sacs", "dangerous": False}
    public = client.get(f"/api/reports/{created.json()['reference']}/").json()
    assert "answers" not in public  # private, as the contact details
    # JSON: an object; a question the category does not ask is refused
    signs = {**body, "category": "signalisation", "answers": {"colour": "rouge"}}
    unknown = client.post("/api/reports/", json.dumps(signs), content_type="application/json")
    assert unknown.status_code == 422
    assert unknown.json()["errors"]["answers"] == ["Question inconnue : colour."]
    assert Report.objects.count() == 1


def test_the_service_stores_answers_and_refuses_missing_required_ones(make_report):
    with pytest.raises(ValidationError) as refused:
        make_report("depot-sauvage", photos=[checked_jpeg()])
    assert refused.value.message_dict["answers"] == [
        "Répondez à la question « Quel volume environ ? »."
    ]
    report = make_report(
        "depot-sauvage",
        photos=[checked_jpeg()],
        answers={"volume": "Quelques sacs", "dangerous": "oui"},
    )
    assert Report.objects.get(pk=report.pk).answers == {
        "volume": "Quelques sacs",
        "dangerous": True,
    }
