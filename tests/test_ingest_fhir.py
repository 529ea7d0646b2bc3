"""read_fhir on published implementation-guide examples (tests/data/fhir/README.md) and on
copies of them with one defect each.

Expected scores come from the examples' own answers and the LOINC answer list LL358-3
(LA6568-5 = 0 "Not at all", LA6569-3 = 1 "Several days", LA6570-1 = 2 "More than half the days",
LA6571-9 = 3 "Nearly every day"), never from the reader's output.
"""

import copy
import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from progress_kit import DataValidationError
from progress_kit.ingest import read_fhir

FHIR = Path(__file__).parent / "data" / "fhir"
TODAY = dt.date(2026, 1, 1)


def load(path):
    return json.loads((FHIR / path).read_text())


def read(src, **kw):
    return read_fhir(src, errors="report", today=TODAY, **kw)


def reasons(data):
    return "\n".join(data.problems["reason"])


# ------------------------------------------------------------------ published examples as they are


def test_us_core_response_panel_and_items_give_one_score():
    # US Core QuestionnaireResponse phq-9-example: answers LA6570-1 x5, LA6569-3 x2, LA6568-5 x2
    # (2+2+2+2+1+1+2+0+0 = 12); its total item says 12, and the derived Observations (panel, nine
    # items, a total written as the string "12") say the same: one administration, one score.
    data = read(FHIR / "us-core")
    assert data.problems.empty, reasons(data)
    obs = data.observations
    assert obs[["client_id", "measure", "score"]].values.tolist() == [["example", "PHQ-9", 12.0]]
    assert obs["date"].iloc[0] == pd.Timestamp("2022-11-29")
    items = data.items.sort_values("item")
    assert items["item"].tolist() == list(range(1, 10))
    assert items["response"].tolist() == [2, 2, 2, 2, 1, 1, 2, 0, 0]


def test_us_core_total_as_string_is_read():
    # the US Core total Observation carries valueString "12", a real defect of the example
    total = load("us-core/Observation-PHQ9-item-example-44261-6.json")
    assert total["valueString"] == "12"
    data = read(total)
    assert data.observations["score"].tolist() == [12.0]


def test_us_core_panel_alone_follows_has_member():
    files = sorted((FHIR / "us-core").glob("Observation-*.json"))
    data = read(files)
    assert data.observations["score"].tolist() == [12.0]
    assert len(data.items) == 9
    # the difficulty item (69722-7) is a panel member but no part of the score
    assert data.items["item"].max() == 9


def test_sdc_total_disagrees_with_items():
    # HL7 SDC questionnaireresponse-sdc-profile-example-PHQ9: the answers weigh
    # 0,0,0,1,2,1,3,2,1 = 10 (itemWeight in CodeSystem CSPHQ9) but the total item says 13
    data = read(FHIR / "sdc")
    assert data.observations.empty
    errors = data.problems[data.problems["severity"] == "error"]
    assert len(errors) == 2
    text = errors["reason"].iloc[0]
    assert "QuestionnaireResponse/questionnaireresponse-sdc-profile-example-PHQ9" in text
    assert "stated total 13 disagrees with the item sum 10" in text
    assert errors["file"].iloc[0].endswith("QuestionnaireResponse-questionnaireresponse-sdc-profile-"
                                           "example-PHQ9.json")
    # item 9 was answered "Several days" (1): with no score it is named on its own line
    assert "item 9 (a critical item" in errors["reason"].iloc[1]
    assert "'Several-days'" in errors["reason"].iloc[1]


def test_sdc_without_its_code_system_cannot_weigh_answers():
    data = read(FHIR / "sdc" / "QuestionnaireResponse-questionnaireresponse-sdc-profile-example-PHQ9.json")
    assert data.observations.empty
    assert "answer code 'Not-at-all' (Not at all) has no score" in reasons(data)


def test_mii_panel_with_value_and_mismatched_link_ids():
    # MII PROMs: the QuestionnaireResponse's linkIds (PHQ.1 ...) do not match its Questionnaire's
    # (PHQ-9.1 ...), all nine answers are LA6571-9 (= 3, total 27), PHQ.10 is the difficulty
    # item; the Observation carries 27 on the panel code 44249-1 itself
    data = read(FHIR / "mii-proms")
    assert data.problems.empty, reasons(data)
    assert data.observations[["client_id", "score"]].values.tolist() == [["example", 27.0]]
    assert data.items["response"].tolist() == [3.0] * 9


def test_phr_derived_observations_dated_years_before_their_response():
    # Personal Health Record IG: Observations derivedFrom the responses are dated 2021-10-01, the
    # responses were authored 2024-12-01; scores agree (3) but the day does not: no score
    data = read(FHIR / "phr")
    assert data.observations.empty
    errors = data.problems[data.problems["severity"] == "error"]
    assert len(errors) == 4
    assert "dated 2021-10-01 and the response 2024-12-01" in errors["reason"].iloc[0]


def test_phr_responses_alone_score():
    # the responses alone: PHQ-9 0+0+1+1+1+0+0+0+0 = 3, GAD-7 0+0+1+1+0+1+0 = 3
    data = read([FHIR / "phr" / "QuestionnaireResponse-phq9.json",
                 FHIR / "phr" / "QuestionnaireResponse-gad7.json"])
    assert data.problems.empty, reasons(data)
    got = data.observations.set_index("measure")["score"].to_dict()
    assert got == {"PHQ-9": 3.0, "GAD-7": 3.0}
    assert set(data.observations["client_id"]) == {"1"}


def test_synthea_transaction_bundle_and_ndjson():
    # Synthea record (PHR IG exemplar): 7 GAD-7 totals, 1 PHQ-9 total, 4 PHQ-2 totals,
    # a body weight and a pain score; subject is urn:uuid:38643f4d-...
    for src in ("Vivien121_Nolan344-screening-subset.json", "Vivien121_Nolan344-screening-subset.ndjson"):
        data = read(FHIR / "synthea" / src)
        assert data.problems.empty
        obs = data.observations
        assert (obs["client_id"] == "38643f4d-9729-e16e-8b44-c532e8ae09d4").all()
        assert obs["measure"].value_counts().to_dict() == {"GAD-7": 7, "PHQ-9": 1}
        assert obs.loc[obs["measure"] == "PHQ-9", "score"].tolist() == [21.0]
        # the day as written (2014-08-25T07:44:10-05:00), not converted to UTC
        assert obs["date"].min() == pd.Timestamp("2014-08-25")
        skipped = data.skipped.set_index("what")["count"]
        assert skipped[[w for w in skipped.index if "55758-7" in w][0]] == 4
        assert data.skipped["count"].sum() == 6


# ------------------------------------------------------------------ one defect each


def total_obs(**changes):
    obs = {"resourceType": "Observation", "id": "t1", "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": "44261-6"}]},
           "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2024-05-06T10:00:00+02:00",
           "valueQuantity": {"value": 14}}
    obs.update(changes)
    return obs


@pytest.mark.parametrize("status", ["entered-in-error", "cancelled", "unknown", "preliminary"])
def test_statuses_that_are_not_scores_are_listed(status):
    data = read(total_obs(status=status))
    assert data.observations.empty
    (row,) = data.problems.to_dict("records")
    assert row["severity"] == "warning" and row["column"] == "status" and row["value"] == status
    assert row["reason"].startswith("Observation/t1: ")


@pytest.mark.parametrize("status", ["final", "amended", "corrected"])
def test_statuses_that_are_scores(status):
    assert read(total_obs(status=status)).observations["score"].tolist() == [14.0]


def test_us_core_response_with_status_unknown_is_listed():
    qr = load("us-core/QuestionnaireResponse-phq-9-example.json")
    qr["status"] = "entered-in-error"
    data = read(qr)
    assert data.observations.empty
    assert "QuestionnaireResponse/phq-9-example: this PHQ-9 QuestionnaireResponse is entered in error" \
        in reasons(data)


@pytest.mark.parametrize("value", [{"valueInteger": 31}, {"valueQuantity": {"value": -1}},
                                   {"valueDecimal": 12.5}])
def test_out_of_range_or_off_step_totals(value):
    obs = total_obs()
    del obs["valueQuantity"]
    obs.update(value)
    data = read(obs)
    assert data.observations.empty
    (row,) = data.problems.to_dict("records")
    assert row["severity"] == "error" and row["reason"].startswith("Observation/t1: score ")


@pytest.mark.parametrize("where,value", [("valueInteger", 7), ("valueDecimal", 7.0),
                                         ("valueString", " 7 "), ("valueQuantity", {"value": 7})])
def test_value_types(where, value):
    obs = total_obs()
    del obs["valueQuantity"]
    obs[where] = value
    assert read(obs).observations["score"].tolist() == [7.0]


def test_value_in_a_component():
    obs = total_obs(code={"coding": [{"system": "urn:local", "code": "gad"}]})
    del obs["valueQuantity"]
    obs["component"] = [{"code": {"coding": [{"system": "http://loinc.org", "code": "70274-6"}]},
                         "valueInteger": 9}]
    data = read(obs)
    assert data.observations[["measure", "score"]].values.tolist() == [["GAD-7", 9.0]]


def test_us_core_response_missing_item_9_is_prorated_and_flagged():
    # drop item 9 (44260-8, answered 0): 8 answers sum to 12, mean 1.5, x 9 = 13.5 -> 14
    qr = load("us-core/QuestionnaireResponse-phq-9-example.json")
    qr["item"] = [it for it in qr["item"] if it["linkId"] != "/44260-8"]
    data = read(qr)
    assert data.observations["score"].tolist() == [14.0]
    (row,) = data.problems.to_dict("records")
    assert row["severity"] == "warning" and "item 9" in row["reason"] and "prorated" in row["reason"]
    assert sorted(data.items["item"]) == [1, 2, 3, 4, 5, 6, 7, 8]


def test_two_missing_items_give_no_score():
    qr = load("us-core/QuestionnaireResponse-phq-9-example.json")
    qr["item"] = [it for it in qr["item"] if it["linkId"] not in ("/44260-8", "/44253-3")]
    data = read(qr)
    assert data.observations.empty
    assert "2 of 9 items missing (items 8, 9)" in reasons(data)


def test_derived_observation_disagreeing_with_its_response():
    qr = load("us-core/QuestionnaireResponse-phq-9-example.json")
    total = load("us-core/Observation-PHQ9-item-example-44261-6.json")
    total["valueString"] = "15"
    data = read([qr, total])
    assert data.observations.empty
    assert "its total is 15 and the response's 12" in reasons(data)


def test_ndjson_problems_name_the_line(tmp_path):
    lines = [json.dumps(total_obs(id=f"o{i}", effectiveDateTime=f"2024-05-0{i}")) for i in range(1, 4)]
    lines[1] = json.dumps(total_obs(id="o2", effectiveDateTime="2024-05-02", valueQuantity={"value": 40}))
    lines.insert(2, "{not json")
    path = tmp_path / "Observation.ndjson"
    path.write_text("\n".join(lines) + "\n")
    data = read(path)
    assert len(data.observations) == 2
    rows = data.problems.sort_values("line").to_dict("records")
    assert [(r["file"], r["line"]) for r in rows] == [("Observation.ndjson", 2), ("Observation.ndjson", 3)]
    assert "Observation/o2: score 40 out of range 0–27 for PHQ-9" in rows[0]["reason"]
    assert "not valid JSON" in rows[1]["reason"]


@pytest.mark.parametrize("ref,expected", [("Patient/abc", "abc"),
                                          ("https://ehr.example.org/fhir/Patient/00123", "00123"),
                                          ("urn:uuid:5f6a-77", "5f6a-77"),
                                          ("Patient/abc/_history/3", "abc")])
def test_client_id_from_subject_reference(ref, expected):
    data = read(total_obs(subject={"reference": ref}))
    assert data.observations["client_id"].tolist() == [expected]


def test_day_as_written_not_utc():
    data = read([total_obs(id="a", effectiveDateTime="2024-03-04T23:30:00-05:00"),
                 total_obs(id="b", effectivePeriod={"start": "2024-03-10T00:30:00+09:00"},
                           effectiveDateTime=None)])
    assert data.observations["date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-03-04", "2024-03-10"]


def test_no_subject_or_no_day_is_a_problem():
    no_subject = total_obs(id="a")
    del no_subject["subject"]
    no_day = total_obs(id="b", effectiveDateTime="2024")
    data = read([no_subject, no_day])
    assert data.observations.empty
    text = reasons(data)
    assert "Observation/a: PHQ-9: no subject.reference" in text
    assert "Observation/b: PHQ-9: effectiveDateTime '2024' is not a full calendar day" in text


def test_searchset_bundle_and_conflicting_duplicates():
    bundle = {"resourceType": "Bundle", "type": "searchset", "entry": [
        {"fullUrl": "https://x/Observation/a", "resource": total_obs(id="a")},
        {"fullUrl": "https://x/Observation/b", "resource": total_obs(id="b", valueQuantity={"value": 9})},
        {"resource": total_obs(id="c", effectiveDateTime="2024-05-07")},
    ]}
    data = read(bundle)
    assert data.observations["date"].dt.day.tolist() == [7]
    text = reasons(data)
    assert "total for client p1 on 2024-05-06 differs between Observation/a (Bundle entry 0), " \
           "Observation/b (Bundle entry 1)" in text


def test_gad7_item_2_answer_code_and_ordinal_value_on_questionnaire():
    codes = ["69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"]
    answers = ["LA6569-3", "LA18938-3", "LA6568-5", "LA6568-5", "LA6568-5", "LA6568-5", "local-3"]
    q = {"resourceType": "Questionnaire", "id": "g", "url": "https://example.org/Questionnaire/g",
         "item": [{"linkId": "q7", "code": [{"system": "http://loinc.org", "code": "69736-7"}],
                   "answerOption": [{"valueCoding": {"system": "urn:x", "code": "local-3"},
                                     "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/"
                                                           "ordinalValue", "valueDecimal": 3}]}]}]}
    items = [{"linkId": f"/{c}", "answer": [{"valueCoding": {"system": "http://loinc.org", "code": a}}]}
             for c, a in zip(codes[:6], answers[:6], strict=True)]
    items.append({"linkId": "q7", "answer": [{"valueCoding": {"system": "urn:x", "code": "local-3"}}]})
    qr = {"resourceType": "QuestionnaireResponse", "id": "r", "status": "completed",
          "questionnaire": "https://example.org/Questionnaire/g|2.0",
          "subject": {"reference": "Patient/p"}, "authored": "2024-01-02",
          "item": [{"linkId": "group", "item": items}]}
    data = read([q, qr])
    assert data.problems.empty, reasons(data)
    # 1 + 2 + 0 + 0 + 0 + 0 + 3
    assert data.observations[["measure", "score"]].values.tolist() == [["GAD-7", 6.0]]


def test_unregistered_resources_are_counted_not_errors():
    other = total_obs(code={"coding": [{"system": "http://loinc.org", "code": "55758-7",
                                        "display": "PHQ-2 total"}]})
    patient = {"resourceType": "Patient", "id": "p1"}
    data = read([other, patient, copy.deepcopy(other), {**other, "id": "t2"}])
    assert data.observations.empty and data.problems.empty
    assert data.skipped.set_index("what")["count"].to_dict() == {
        "LOINC 55758-7 (PHQ-2 total)": 2, "not a score": 1,
        "the same resource read again (identical copy)": 1}


def test_raise_mode_raises_with_every_problem():
    with pytest.raises(DataValidationError) as info:
        read_fhir(FHIR / "sdc", today=TODAY)
    assert "stated total 13 disagrees" in str(info.value)
    data = read_fhir(FHIR / "us-core", today=TODAY)
    assert len(data.observations) == 1


def test_every_phq_or_gad_resource_is_a_score_or_a_problem():
    """Across all the published examples, each PHQ-9/GAD-7 resource is accounted for."""
    data = read(FHIR)
    named = set(data.observations["source"])
    text = reasons(data)
    merged = []
    for path in sorted(FHIR.rglob("*.json")):
        r = json.loads(path.read_text())
        for res in [e["resource"] for e in r.get("entry", [])] or [r]:
            if res["resourceType"] not in ("Observation", "QuestionnaireResponse"):
                continue
            blob = json.dumps(res)
            if not any(c in blob for c in ("44261-6", "70274-6", "44249-1", "44250-9", "PHQ9", "phq",
                                           "gad")):
                continue
            label = f"{res['resourceType']}/{res['id']}"
            if label not in named and label not in text:
                merged.append(label)
    # only the resources merged into another one's score are neither named nor listed: the
    # US Core panel and its eleven members (same administration as the response) and the MII
    # response (same as the MII Observation)
    assert len(merged) == 13
    assert {m.split("/")[1].split("-example")[0] for m in merged} == {"PHQ9-item", "PHQ9-panel",
                                                                       "mii-exa-pro-phq-9-response"}


def test_combined_phq9_gad7_form_gives_two_scores():
    # the US Core response plus the seven GAD-7 items of the PHR example in one response
    qr = load("us-core/QuestionnaireResponse-phq-9-example.json")
    gad = load("phr/QuestionnaireResponse-gad7.json")
    qr["item"] = [{"linkId": "phq", "item": qr["item"]}, {"linkId": "gad", "item": gad["item"]}]
    data = read(qr)
    assert data.problems.empty, reasons(data)
    got = data.observations.set_index("measure")["score"].to_dict()
    assert got == {"PHQ-9": 12.0, "GAD-7": 3.0}
    assert data.items.groupby("measure").size().to_dict() == {"GAD-7": 7, "PHQ-9": 9}


def test_contained_questionnaire_weights_and_in_progress_status():
    q = {"resourceType": "Questionnaire", "id": "q", "code": [{"system": "http://loinc.org",
                                                              "code": "69737-5"}],
         "item": [{"linkId": f"g{i}", "answerOption": [
             {"valueCoding": {"code": c}, "extension": [
                 {"url": "http://hl7.org/fhir/StructureDefinition/itemWeight", "valueDecimal": w}]}
             for c, w in (("never", 0), ("some", 1), ("half", 2), ("daily", 3))]}
             for i in range(1, 8)]}
    qr = {"resourceType": "QuestionnaireResponse", "id": "r", "status": "completed",
          "contained": [q], "questionnaire": "#q", "subject": {"reference": "Patient/p"},
          "authored": "2024-02-03T08:00:00Z",
          "item": [{"linkId": f"g{i}", "answer": [{"valueCoding": {"code": c}}]}
                   for i, c in zip(range(1, 8), ["daily", "half", "some", "never", "never", "some",
                                                 "half"], strict=True)]}
    data = read(qr)
    assert data.problems.empty, reasons(data)
    assert data.observations[["measure", "score"]].values.tolist() == [["GAD-7", 9.0]]  # 3+2+1+0+0+1+2
    data = read({**qr, "status": "in-progress"})
    assert data.observations.empty
    assert data.problems["severity"].tolist() == ["warning"]


# ------------------------------------------------------------------ the real SDC example (sdc-3.0)
# HL7 SDC's PHQ-9 example as published (tests/data/fhir/README.md): answer codes without a code
# system, weights only as ordinalValue in the Questionnaire's contained ValueSet; its answers
# weigh 0,0,0,1,2,1,3,2,1 (Not-at-all 0, Several-days 1, More than half the days 2, Nearly every
# day 3) = 10, item 9 = 1, while the total item states 13.

SDC30 = FHIR / "sdc-3.0"
SDC30_QR = SDC30 / "questionnaireresponse-sdc-profile-example-PHQ9.json"


def test_sdc_example_scored_through_its_own_questionnaire():
    qr = load("sdc-3.0/questionnaireresponse-sdc-profile-example-PHQ9.json")
    assert all("system" not in a["valueCoding"] for it in qr["item"][0]["item"][:9]
               for a in it["answer"])
    data = read(SDC30)
    assert data.observations.empty  # the stated 13 is never kept
    errors = data.problems[data.problems["severity"] == "error"]
    text = reasons(data)
    assert "stated total 13 disagrees with the item sum 10; no score" in text
    # item 9 answered 1: named, not dropped with the administration
    (row,) = errors[errors["column"] == "item 9"].to_dict("records")
    assert "a critical item" in row["reason"] and "'Several-days'" in row["reason"]


def test_sdc_example_weights_give_the_items_when_the_total_is_right():
    # the same response with its total corrected to the items' 10: the items are read through
    # the Questionnaire's ValueSet and the score is 10 with item 9 = 1
    qr = load("sdc-3.0/questionnaireresponse-sdc-profile-example-PHQ9.json")
    qr["item"][0]["item"][-1]["answer"][0]["valueQuantity"]["value"] = 10
    q = load("sdc-3.0/questionnaire-sdc-profile-example-PHQ9.json")
    data = read([q, qr])
    assert data.problems.empty, reasons(data)
    assert data.observations["score"].tolist() == [10.0]
    items = data.items.sort_values("item")["response"].tolist()
    assert items == [0, 0, 0, 1, 2, 1, 3, 2, 1]


def test_sdc_example_without_its_questionnaire_lists_every_unscored_item():
    data = read(SDC30_QR)
    assert data.observations.empty and data.items.empty
    unscored = data.problems[data.problems["column"].str.startswith("item[")]
    assert unscored["column"].tolist() == [f"item[H1/T1/Q{k}]" for k in range(1, 10)]
    assert (unscored["severity"] == "error").all()
    assert "item 9 (a critical item" in unscored["reason"].iloc[-1]


# ------------------------------------------------------------------ panels and subjects


def _member(i, code, answer, subject):
    return {"resourceType": "Observation", "id": f"{subject}-item{i}", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "subject": {"reference": f"Patient/{subject}"}, "effectiveDateTime": "2024-05-06",
            "valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": answer}]}}


PHQ9_CODES = ["44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5",
              "44253-3", "44260-8"]


def test_panel_members_of_another_patient_are_not_taken():
    # A's panel points at B's nine answers, all "Nearly every day" (LA6571-9 = 3, total 27)
    b_items = [_member(i, c, "LA6571-9", "B") for i, c in enumerate(PHQ9_CODES, start=1)]
    panel = {"resourceType": "Observation", "id": "A-panel", "status": "final",
             "code": {"coding": [{"system": "http://loinc.org", "code": "44249-1"}]},
             "subject": {"reference": "Patient/A"}, "effectiveDateTime": "2024-05-06",
             "hasMember": [{"reference": f"Observation/{o['id']}"} for o in b_items]}
    data = read([panel, *b_items])
    obs = data.observations
    assert "A" not in set(obs["client_id"])
    # B's answers stay B's: 9 x 3 = 27, item 9 among them
    assert obs[["client_id", "score"]].values.tolist() == [["B", 27.0]]
    assert data.items.loc[data.items["item"] == 9, "client_id"].tolist() == ["B"]
    errors = data.problems[data.problems["severity"] == "error"]
    assert len(errors) == 9 and errors["reason"].str.contains("Observation/A-panel").all()
    assert "has subject 'B', not this panel's subject 'A'" in errors["reason"].iloc[0]


def test_only_patient_subjects_are_clients():
    data = read([total_obs(id="g", subject={"reference": "Group/ward7"}),
                 total_obs(id="d", subject={"reference": "Device/x"}),
                 total_obs(id="t", subject={"reference": "Patient/p1", "type": "Group"})])
    assert data.observations.empty
    text = reasons(data)
    assert "subject 'Group/ward7' is a Group, not a Patient" in text
    assert "subject 'Device/x' is a Device, not a Patient" in text
    assert len(data.problems) == 3


def test_same_patient_id_on_two_servers_stays_two_clients():
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "https://a.example/fhir/Observation/1",
         "resource": total_obs(id="1", subject={"reference": "Patient/123"})},
        {"fullUrl": "https://b.example/fhir/Observation/1",
         "resource": total_obs(id="1", subject={"reference": "Patient/123"},
                               valueQuantity={"value": 20})},
    ]}
    data = read(bundle)
    got = dict(zip(data.observations["client_id"], data.observations["score"], strict=True))
    assert got == {"https://a.example/fhir/Patient/123": 14.0,
                   "https://b.example/fhir/Patient/123": 20.0}
    (row,) = data.problems.to_dict("records")
    assert row["severity"] == "warning" and "2 server bases" in row["reason"]


@pytest.mark.parametrize("unit", [{}, {"unit": "{score}"}, {"code": "{score}"}, {"unit": "score"},
                                  {"system": "http://unitsofmeasure.org", "code": "1"}])
def test_score_units_are_accepted(unit):
    assert read(total_obs(valueQuantity={"value": 14, **unit})).observations["score"].tolist() == [14.0]


@pytest.mark.parametrize("unit", [{"unit": "kg"}, {"code": "mm[Hg]"}, {"unit": "{score}", "code": "kg"}])
def test_other_units_are_problems(unit):
    data = read(total_obs(valueQuantity={"value": 14, **unit}))
    assert data.observations.empty
    (row,) = data.problems.to_dict("records")
    assert row["severity"] == "error" and "is not a score unit" in row["reason"]


def test_unit_on_a_response_answer():
    qr = load("us-core/QuestionnaireResponse-phq-9-example.json")
    total = next(it for it in qr["item"] if it["linkId"] == "/44261-6")
    key = next(k for k in total["answer"][0] if k.startswith("value"))
    total["answer"][0] = {"valueQuantity": {"value": 12, "unit": "kg"}}
    data = read(qr)
    assert data.observations.empty, key
    assert "valueQuantity.unit 'kg' is not a score unit" in reasons(data)


# ------------------------------------------------------------------ conflicting answers


def _us_core_with_item_9(*answers, total=False):
    qr = load("us-core/QuestionnaireResponse-phq-9-example.json")
    if not total:  # without its stated total 12, which the changed item 9 would contradict
        qr["item"] = [it for it in qr["item"] if it["linkId"] != "/44261-6"]
    item9 = next(it for it in qr["item"] if it["linkId"] == "/44260-8")
    item9["answer"] = [{"valueCoding": {"system": "http://loinc.org", "code": a}} for a in answers]
    return qr


def test_item_answered_twice_takes_the_worse_answer_and_is_listed():
    # US Core answers sum to 12 with item 9 = 0 (LA6568-5); item 9 answered 1 (LA6569-3), then 0
    data = read(_us_core_with_item_9("LA6569-3", "LA6568-5"))
    assert data.observations["score"].tolist() == [13.0]
    assert data.items.loc[data.items["item"] == 9, "response"].tolist() == [1.0]
    (row,) = data.problems.to_dict("records")
    assert row["severity"] == "warning" and row["column"] == "item 9"
    assert "2 different answers" in row["reason"] and "the worse one, 1" in row["reason"]


def test_item_repeated_as_a_second_item_is_the_same_conflict():
    qr = _us_core_with_item_9("LA6568-5")
    qr["item"].append({"linkId": "/44260-8", "answer": [
        {"valueCoding": {"system": "http://loinc.org", "code": "LA6571-9"}}]})
    data = read(qr)
    assert data.observations["score"].tolist() == [15.0]  # 12 - 0 + 3
    assert "the worse one, 3" in reasons(data)


def test_item_observations_answering_one_item_twice():
    items = [_member(i, c, "LA6568-5", "p") for i, c in enumerate(PHQ9_CODES, start=1)]
    items.append({**_member(9, PHQ9_CODES[8], "LA6570-1", "p"), "id": "p-item9-again"})
    data = read(items)
    assert data.observations["score"].tolist() == [2.0]
    assert "item 9 (a critical item" in reasons(data)


# ------------------------------------------------------------------ versions


def test_latest_version_is_kept_and_older_ones_counted():
    v1 = total_obs(meta={"versionId": "1", "lastUpdated": "2024-05-06T10:00:00Z"})
    v2 = total_obs(meta={"versionId": "2", "lastUpdated": "2024-05-07T09:00:00+02:00"},
                   valueQuantity={"value": 16}, status="amended")
    data = read([v2, v1, copy.deepcopy(v2)])
    assert data.observations["score"].tolist() == [16.0]
    assert data.problems.empty
    skipped = data.skipped.set_index("what")["count"].to_dict()
    assert skipped == {"earlier version (a later version of the same resource is read)": 1,
                       "the same resource read again (identical copy)": 1}


def test_version_id_orders_when_there_is_no_last_updated(tmp_path):
    (tmp_path / "2024-05").mkdir()
    (tmp_path / "2024-06").mkdir()
    (tmp_path / "2024-05" / "Observation.ndjson").write_text(
        json.dumps(total_obs(meta={"versionId": "9"})) + "\n")
    (tmp_path / "2024-06" / "Observation.ndjson").write_text(
        json.dumps(total_obs(meta={"versionId": "10"}, valueQuantity={"value": 3})) + "\n")
    assert read(tmp_path).observations["score"].tolist() == [3.0]


def test_entered_in_error_retracts_earlier_versions():
    v1 = total_obs(meta={"versionId": "1"})
    v2 = total_obs(meta={"versionId": "2"}, status="entered-in-error")
    data = read([v1, v2])
    assert data.observations.empty
    rows = data.problems.set_index("column")["reason"].to_dict()
    assert "retracted: a later version (version 2, (resource given as a dict))" in rows["meta"]
    assert "entered in error" in rows["status"]


def test_qr_versions():
    qr = load("us-core/QuestionnaireResponse-phq-9-example.json")
    old = {**copy.deepcopy(qr), "meta": {"versionId": "1"}}
    old["item"] = [it for it in old["item"] if it["linkId"] != "/44261-6"]
    new = {**_us_core_with_item_9("LA6571-9", total=True), "meta": {"versionId": "2"}}
    data = read([new, old])
    # only version 2 is scored: 12 with item 9 = 3 is 15, and its stated total 12 disagrees
    assert data.observations.empty
    assert "stated total 12 disagrees with the item sum 15" in reasons(data)


# ------------------------------------------------------------------ malformed input


@pytest.mark.parametrize("change,element", [
    ({"subject": "Patient/p1"}, "subject"), ({"code": "44261-6"}, "code"),
    ({"valueQuantity": [14]}, "valueQuantity"), ({"meta": "v2"}, "meta"),
    ({"component": {"code": {}}}, "component"), ({"status": 1}, "status")])
def test_wrong_json_type_is_a_problem_for_that_resource(change, element):
    good = total_obs(id="ok", effectiveDateTime="2024-05-07")
    data = read([total_obs(**change), good])
    assert data.observations["score"].tolist() == [14.0]
    (row,) = data.problems.to_dict("records")
    assert row["column"] == element and row["reason"].startswith("Observation/t1: element")


@pytest.mark.parametrize("concept", ["code", "valueCodeableConcept"])
def test_coding_that_is_not_a_list(concept):
    obs = total_obs(**{concept: {"coding": 5}})
    data = read([obs, total_obs(id="ok", effectiveDateTime="2024-05-07")])
    assert data.observations["score"].tolist() == [14.0]
    (row,) = data.problems.to_dict("records")
    assert row["column"] == f"{concept}.coding" and "where FHIR has an array" in row["reason"]


def test_every_example_with_random_wrong_types_reads_without_an_exception():
    """A fuzz test: 80 copies of the published examples with 1-4 elements replaced by values of
    another JSON type; every one reads (problems listed), none raises."""
    import random

    docs = [json.loads(p.read_text()) for p in sorted(FHIR.rglob("*.json"))]
    junk = [None, 1, 2.5, True, "x", [], {}, [1], {"a": 1}, "Patient/1", {"reference": 3},
            {"coding": "x"}]

    def paths(o, pre=()):
        yield pre
        items = o.items() if isinstance(o, dict) else enumerate(o) if isinstance(o, list) else ()
        for k, v in items:
            yield from paths(v, (*pre, k))

    rng = random.Random(24)
    for _ in range(80):
        doc = copy.deepcopy(rng.choice(docs))
        spots = list(paths(doc))[1:]
        for _ in range(rng.randint(1, 4)):
            where, target = rng.choice(spots), doc
            try:
                for k in where[:-1]:
                    target = target[k]
                target[where[-1]] = rng.choice(junk)
            except (KeyError, IndexError, TypeError):
                pass  # an earlier change removed the path
        read(doc)


def test_wrong_types_deeper_inside_a_response():
    qr = load("us-core/QuestionnaireResponse-phq-9-example.json")
    qr["item"][0]["answer"] = {"valueCoding": "LA6568-5"}
    qr["item"][1] = "not an item"
    data = read([qr, total_obs()])
    assert data.observations["client_id"].tolist() == ["p1"]
    (row,) = data.problems.to_dict("records")
    assert row["severity"] == "error"
    assert row["reason"] == ("QuestionnaireResponse/phq-9-example: item[0].answer is an object where "
                             "FHIR has an array; this resource is not read")


def test_malformed_panel_members_and_meta():
    panel = {"resourceType": "Observation", "id": "pn", "status": "final",
             "code": {"coding": [{"system": "http://loinc.org", "code": "44249-1"}]},
             "subject": {"reference": "Patient/p"}, "effectiveDateTime": "2024-05-06",
             "hasMember": [{"reference": ["Observation/x"]}, "Observation/y"], "valueInteger": 5}
    again = {**total_obs(valueQuantity={"value": 15}),
             "meta": {"versionId": {"v": 1}, "lastUpdated": "not a time"}}
    data = read([panel, total_obs(), again])
    assert data.observations.set_index("client_id")["score"].to_dict() == {"p": 5.0}
    assert "differs between" in reasons(data)  # two copies of t1 whose order cannot be told


def test_deeply_nested_json_names_the_file(tmp_path):
    deep = "[" * 5000 + "]" * 5000
    (tmp_path / "deep.json").write_text(deep)
    lines = [json.dumps(total_obs()), '{"resourceType": "Observation", "x": ' + deep + "}"]
    (tmp_path / "bulk.ndjson").write_text("\n".join(lines) + "\n")
    qr = load("us-core/QuestionnaireResponse-phq-9-example.json")
    nested = {"linkId": "x"}
    for _ in range(200):  # 400 brackets deep, within the limit: groups within groups
        nested = {"linkId": "g", "item": [nested]}
    qr["item"].append(nested)
    (tmp_path / "qr.json").write_text(json.dumps(qr))
    data = read(tmp_path)
    assert sorted(data.observations["score"]) == [12.0, 14.0]
    rows = {(r["file"], r["line"] if pd.notna(r["line"]) else None): r["reason"]
            for r in data.problems.to_dict("records")}
    assert "nested more than" in rows[(f"{tmp_path.name}/deep.json", None)]
    assert "nested more than" in rows[(f"{tmp_path.name}/bulk.ndjson", 2)]


def test_a_huge_id_gives_a_short_message():
    data = read(total_obs(id="x" * 1_000_000, valueQuantity={"value": 99}))
    text = reasons(data)
    assert len(text) < 500 and "(1000000 characters)" in text


# ------------------------------------------------------------------ files


def test_gzipped_ndjson_is_read_and_other_files_are_listed(tmp_path):
    import gzip

    lines = "".join(json.dumps(total_obs(id=f"o{i}", effectiveDateTime=f"2024-05-0{i}")) + "\n"
                    for i in range(1, 4))
    (tmp_path / "Observation.ndjson.gz").write_bytes(gzip.compress(lines.encode()))
    (tmp_path / "Observation.xml").write_text("<Observation/>")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "broken.ndjson.gz").write_bytes(b"not gzip")
    data = read(tmp_path)
    assert len(data.observations) == 3
    rows = data.problems.set_index("file")[["severity", "reason"]].to_dict("index")
    base = tmp_path.name
    assert rows[f"{base}/Observation.xml"]["reason"].startswith("not read: FHIR XML")
    assert rows[f"{base}/notes.txt"]["severity"] == "warning"
    assert rows[f"{base}/broken.ndjson.gz"]["severity"] == "error"
    assert len(rows) == 3
