"""read_fhir with EpisodeOfCare resources: episodes of care (issue 26).

Real: the FHIR R4 specification's EpisodeOfCare example (tests/data/fhir/r4-spec/, Patient/example,
period from 2014-09-01, open, status active, careManager Practitioner/14) and the HL7 US Core PHQ-9
QuestionnaireResponse of the same Patient/example (tests/data/fhir/us-core/, authored 2022-11-29,
answers weighing 12). Made here, in memory, from copies of those two: a second, earlier episode,
responses on other days, an Encounter, a Condition. Expected values come from the published files
and from the dates written below, never from the reader's output.
"""

import copy
import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

import progress_kit as pk
from progress_kit import DataValidationError
from progress_kit.ingest import read_fhir

FHIR = Path(__file__).parent / "data" / "fhir"
TODAY = dt.date(2026, 1, 1)
EOC = json.loads((FHIR / "r4-spec" / "episodeofcare-example.json").read_text())
QR = json.loads((FHIR / "us-core" / "QuestionnaireResponse-phq-9-example.json").read_text())
Q = json.loads((FHIR / "us-core" / "Questionnaire-phq-9-example.json").read_text())


def read(src, **kw):
    return read_fhir(src, errors="report", today=TODAY, **kw)


def errors_of(data):
    p = data.problems
    return p[p["severity"] == "error"]


def response(rid, authored, encounter=None):
    r = copy.deepcopy(QR)
    r["id"], r["authored"] = rid, authored
    if encounter:
        r["encounter"] = {"reference": f"Encounter/{encounter}"}
    return r


def episode(eid, start, end=None, status="finished", **extra):
    e = copy.deepcopy(EOC)
    e["id"], e["status"] = eid, status
    e["period"] = {"start": start, **({"end": end} if end else {})}
    e.update(extra)
    return e


def encounter(eid, episode_id):
    return {"resourceType": "Encounter", "id": eid, "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": "Patient/example"},
            "episodeOfCare": [{"reference": f"EpisodeOfCare/{episode_id}"}]}


# ------------------------------------------------------------------ the published example


def test_the_r4_example_becomes_the_clients_episode():
    data = read([FHIR / "r4-spec", FHIR / "us-core"])
    clients = data.clients
    assert len(clients) == 1
    row = clients.iloc[0]
    # from the published file: id example, Patient/example, period.start 2014-09-01 (no end),
    # status active, careManager Practitioner/14
    assert (row["client_id"], row["episode_id"], row["therapist_id"]) == ("example", "example", "14")
    assert row["start_date"] == pd.Timestamp("2014-09-01") and pd.isna(row["end_date"])
    assert row["status"] == "active"
    # its type (hacc) and diagnosis (Condition/stroke, not among the files) are not problems of
    # the kit: left blank, with a warning that says so
    assert pd.isna(row["problem"])
    (warning,) = data.problems.to_dict("records")
    assert warning["severity"] == "warning" and "EpisodeOfCare/example" in warning["reason"]
    assert "Condition/stroke, hacc" in warning["reason"]
    # the US Core response (2022-11-29) lies inside the open episode
    obs = data.observations
    assert obs[["client_id", "episode_id", "score"]].values.tolist() == [["example", "example", 12.0]]
    assert set(data.items["episode_id"]) == {"example"} and len(data.items) == 9


def test_without_episodeofcare_nothing_changes():
    data = read(FHIR / "us-core")
    assert "episode_id" not in data.clients and "episode_id" not in data.observations


# ------------------------------------------------------------------ a returning client


def returning():
    """Patient/example: a first course in 2021 (finished, depression by a SNOMED Condition) and
    the published open episode from 2014-09-01 moved to 2022-11-01."""
    first = episode("first", "2021-01-04", "2021-06-30", diagnosis=[
        {"condition": {"reference": "Condition/dep"}, "rank": 1}])
    condition = {"resourceType": "Condition", "id": "dep", "subject": {"reference": "Patient/example"},
                 "code": {"coding": [{"system": "http://snomed.info/sct", "code": "35489007",
                                      "display": "Depressive disorder"}]}}
    second = copy.deepcopy(EOC)
    second["period"] = {"start": "2022-11-01"}
    return [first, condition, second, Q, QR, response("r-2021", "2021-02-01T09:00:00Z")]


def test_a_returning_client_has_two_episodes_and_each_score_its_own():
    data = read(returning())
    clients = data.clients.set_index("episode_id")
    assert list(clients.index) == ["first", "example"]
    assert clients.loc["first", "status"] == "finished"
    assert clients.loc["first", "end_date"] == pd.Timestamp("2021-06-30")
    assert clients.loc["first", "problem"] == "depression"  # SNOMED 35489007
    obs = data.observations.set_index("episode_id")
    assert obs.loc["first", "date"] == pd.Timestamp("2021-02-01")
    assert obs.loc["example", "date"] == pd.Timestamp("2022-11-29")
    assert errors_of(data).empty


def test_a_response_outside_every_episode_is_an_error_naming_it():
    # 2022-01-10 lies between the first episode's end (2021-06-30) and the second's start
    # (2022-11-01); 2020-12-01 before the first: with no encounter to say otherwise, neither
    # is put in an episode
    data = read(returning() + [response("gap", "2022-01-10T09:00:00Z"),
                               response("early", "2020-12-01T09:00:00Z")])
    errs = errors_of(data)
    assert len(errs) == 2
    for rid, day in (("gap", "2022-01-10"), ("early", "2020-12-01")):
        (reason,) = errs.loc[errs["reason"].str.startswith(f"QuestionnaireResponse/{rid}:"), "reason"]
        assert f"dated {day}, outside the period of every EpisodeOfCare of patient 'example'" in reason
        assert "first 2021-01-04 to 2021-06-30; example 2022-11-01 to open" in reason
    assert sorted(data.observations["date"].dt.strftime("%Y-%m-%d")) == ["2021-02-01", "2022-11-29"]
    with pytest.raises(DataValidationError, match="outside the period of every EpisodeOfCare"):
        read_fhir(returning() + [response("gap", "2022-01-10T09:00:00Z")], today=TODAY)


def test_the_encounter_names_the_episode():
    # a response two days before the first episode's start, at the referral appointment whose
    # Encounter belongs to episode "first": the encounter puts it there
    data = read(returning() + [encounter("referral", "first"),
                               response("pre", "2021-01-02T09:00:00Z", encounter="referral")])
    obs = data.observations.set_index(data.observations["date"].dt.strftime("%Y-%m-%d"))
    assert obs.loc["2021-01-02", "episode_id"] == "first"
    assert errors_of(data).empty


def test_an_encounter_that_disagrees_with_the_date_is_an_error():
    # dated inside the second episode, but its encounter belongs to the first
    data = read(returning()[:-1] + [encounter("e1", "first"),
                                    response("r-2021", "2022-12-05T09:00:00Z", encounter="e1")])
    (err,) = errors_of(data).to_dict("records")
    assert err["reason"].startswith("QuestionnaireResponse/r-2021: episode_id 'first' disagrees "
                                    "with the date 2022-12-05")
    assert "EpisodeOfCare/example" in err["reason"]
    assert data.observations["date"].tolist() == [pd.Timestamp("2022-11-29")]


def test_an_encounter_naming_an_unknown_episode_is_an_error():
    enc = encounter("e9", "elsewhere")
    data = read(returning()[:-1] + [enc, response("r9", "2022-12-05T09:00:00Z", encounter="e9")])
    (err,) = errors_of(data).to_dict("records")
    assert err["column"] == "encounter" and "QuestionnaireResponse/r9" in err["reason"]
    assert "not among the sources: EpisodeOfCare/elsewhere" in err["reason"]


def test_overlapping_episodes_name_both_resources_and_assign_nothing():
    first = episode("first", "2021-01-04", "2022-12-31")  # runs into the second (2022-11-01)
    second = copy.deepcopy(EOC)
    second["period"] = {"start": "2022-11-01"}
    data = read([first, second, Q, QR])
    errs = errors_of(data)
    overlap = errs[errs["reason"].str.contains("must not overlap")]
    assert len(overlap) == 1
    reason = overlap["reason"].iloc[0]
    assert reason.startswith("EpisodeOfCare/example: episode 'example' of client 'example' starts "
                             "on 2022-11-01, inside episode 'first' (EpisodeOfCare/first,")
    # the client's episodes are not known for sure: the score is not assigned, and listed
    rejected = errs[errs["reason"].str.contains("rejected on EpisodeOfCare/example")]
    assert rejected["reason"].iloc[0].startswith("QuestionnaireResponse/phq-9-example: ")
    assert data.observations.empty


@pytest.mark.parametrize(("fhir", "kit"), [("planned", "active"), ("waitlist", "active"),
                                           ("onhold", "active"), ("finished", "finished"),
                                           ("cancelled", "dropped")])
def test_status_mapping(fhir, kit):
    data = read([episode("e", "2022-11-01", "2022-12-31", status=fhir), Q, QR])
    assert data.clients["status"].tolist() == [kit]


def test_an_entered_in_error_episode_is_no_episode():
    data = read([episode("gone", "2022-11-01", status="entered-in-error"), Q, QR])
    assert "gone" not in set(data.clients.get("episode_id", []))
    assert "entered in error; not an episode" in "\n".join(data.problems["reason"])


def test_problem_from_type_text_and_icd10():
    by_type = episode("t", "2022-11-01", type=[{"text": "Social anxiety"}], diagnosis=[])
    assert read([by_type, Q, QR]).clients["problem"].tolist() == ["social_anxiety"]
    icd = episode("i", "2022-11-01", type=[{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10",
                                                         "code": "F43.1"}]}], diagnosis=[])
    assert read([icd, Q, QR]).clients["problem"].tolist() == ["ptsd"]


def test_another_patient_without_episodes_gets_a_stub_row():
    other = response("other", "2022-12-01T09:00:00Z")
    other["subject"] = {"reference": "Patient/p2"}
    data = read([EOC, Q, QR, other])
    clients = data.clients.set_index("client_id")
    assert clients.loc["example", "episode_id"] == "example"
    assert clients.loc["p2", "episode_id"] == "" and clients.loc["p2", "start_date"] == pd.Timestamp(
        "2022-12-01")
    assert errors_of(data).empty


def test_the_written_folder_reads_back_with_the_same_episodes(tmp_path):
    data = read(returning())
    folder = data.write(tmp_path / "clinic")
    back = pk.load_data(folder, today=TODAY)
    assert back.clients["episode_id"].tolist() == data.clients["episode_id"].tolist()
    got = back.observations.sort_values("date")[["date", "episode_id"]].values.tolist()
    want = data.observations.sort_values("date")[["date", "episode_id"]].values.tolist()
    assert got == want


def test_only_an_entered_in_error_episode_and_no_score():
    data = read([episode("gone", "2022-11-01", status="entered-in-error")])
    assert data.observations.empty and data.clients.empty
    assert data.problems["severity"].tolist() == ["warning"]


def test_an_episode_without_a_start_is_an_error_and_its_patient_waits():
    no_start = copy.deepcopy(EOC)
    no_start["period"] = {}
    data = read([no_start, Q, QR])
    errs = errors_of(data)
    start = errs[errs["column"] == "period.start"]
    assert start["reason"].iloc[0].startswith("EpisodeOfCare/example: ")
    assert start["file"].iloc[0] == "(resource given as a dict)"
    # the patient's episodes are not known for sure: the response is listed, not assigned
    assert errs["reason"].str.contains("QuestionnaireResponse/phq-9-example: client 'example' "
                                       "has an episode rejected on EpisodeOfCare/example").any()
    assert data.observations.empty


# ------------------------------------------------------------------ other FHIR releases


def r5_episode(eid, condition):
    """The R4 example as an R5 EpisodeOfCare writes its diagnosis: ``condition`` is a list of
    CodeableReferences (R5 EpisodeOfCare.diagnosis.condition 0..*, each a Reference and/or a
    CodeableConcept) and ``role`` became ``use``."""
    e = episode(eid, "2022-11-01", status="active", type=[])
    e["diagnosis"] = [{"condition": condition,
                       "use": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                    "diagnosis-role", "code": "CC"}]}}]
    return e


SOCIAL_ANXIETY = {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "F40.1"}]}


@pytest.mark.parametrize("condition, extra", [
    ([{"concept": SOCIAL_ANXIETY}], []),
    ([{"reference": {"reference": "Condition/sa"}}],
     [{"resourceType": "Condition", "id": "sa", "subject": {"reference": "Patient/example"},
       "code": SOCIAL_ANXIETY}]),
], ids=["concept", "reference"])
def test_an_r5_diagnosis_names_the_problem(condition, extra):
    """An R5 episode's problem is read from its diagnosis, as an R4 one's: the client is then
    judged on their own problem's measure, not on PHQ-9 by default."""
    data = read([r5_episode("r5", condition), *extra, Q, QR])
    assert data.clients["problem"].tolist() == ["social_anxiety"]
    assert errors_of(data).empty


def test_an_stu3_condition_names_the_problem():
    e = episode("s3", "2022-11-01", status="active", type=[])
    e.pop("diagnosis", None)
    e["condition"] = [{"reference": "Condition/sa"}]
    condition = {"resourceType": "Condition", "id": "sa", "subject": {"reference": "Patient/example"},
                 "code": SOCIAL_ANXIETY}
    assert read([e, condition, Q, QR]).clients["problem"].tolist() == ["social_anxiety"]


def test_an_r5_diagnosis_the_kit_cannot_map_is_a_warning_naming_it():
    """Never a silent default: a diagnosis that names no problem of the kit leaves the problem
    blank with a warning that shows what the episode said."""
    data = read([r5_episode("r5", [{"reference": {"reference": "Condition/elsewhere"}},
                                   {"concept": {"text": "Burn of ear"}}]), Q, QR])
    assert pd.isna(data.clients["problem"].iloc[0])
    (warning,) = data.problems.to_dict("records")
    assert warning["severity"] == "warning"
    assert "Condition/elsewhere" in warning["reason"] and "Burn of ear" in warning["reason"]


@pytest.mark.parametrize("fields, shown", [
    ({"diagnosis": [{"condition": {"display": "Burn of ear"}}]}, "Burn of ear"),
    ({"diagnosis": [{"condition": [{"concept": {"coding": [{"display": "Burn of ear"}]}}]}]},
     "Burn of ear"),
    ({"diagnosis": [{"condition": [{"reference": {"display": "Burn of ear"}}]}]}, "Burn of ear"),
    ({"condition": [{"display": "Burn of ear"}]}, "Burn of ear"),
    ({"type": [{"text": "Burn of ear"}]}, "Burn of ear"),
    # of another JSON type than FHIR's: not read, shown as they are
    ({"diagnosis": [{"condition": [{"reference": "Condition/sa"}]}]}, '{"reference": "Condition/sa"}'),
    ({"diagnosis": {"condition": {"reference": "Condition/sa"}}}, '{"condition": {"reference"'),
    ({"diagnosis": [{"condition": "Condition/sa"}]}, '"Condition/sa"'),
    ({"condition": {"reference": "Condition/sa"}}, '{"reference": "Condition/sa"}'),
    ({"diagnosis": [{"condition": [{"concept": {}}]}]}, '{"concept": {}}'),
    ({"type": {"text": "Social anxiety"}}, '{"text": "Social anxiety"}'),
])
def test_whatever_names_a_diagnosis_is_shown_when_it_maps_to_no_problem(fields, shown):
    """A diagnosis or type named only by a display or a text, or given in another JSON type than
    FHIR's, never leaves the problem blank silently: the warning shows what the episode said
    (a Condition/sa that would map to social anxiety is among the sources: only the element's
    type keeps it from being read)."""
    e = episode("x", "2022-11-01", status="active", type=[])
    e.pop("diagnosis", None)
    e.update(fields)
    condition = {"resourceType": "Condition", "id": "sa", "subject": {"reference": "Patient/example"},
                 "code": SOCIAL_ANXIETY}
    data = read([e, condition, Q, QR])
    assert pd.isna(data.clients["problem"].iloc[0])
    (warning,) = data.problems.to_dict("records")
    assert warning["severity"] == "warning" and shown in warning["reason"], warning["reason"]


# ------------------------------------------------------------------ a Condition without an episode


def condition(cid, code=SOCIAL_ANXIETY, patient="example", **extra):
    return {"resourceType": "Condition", "id": cid, "subject": {"reference": f"Patient/{patient}"},
            "code": code, **extra}


def test_a_condition_without_an_episode_is_a_warning_not_a_silent_phq9():
    """Without an EpisodeOfCare the client's problem is not taken from a Condition (which course
    of care it belongs to cannot be told), but the Condition that names one of the kit's
    problems says so, instead of the client being judged on PHQ-9 without a word."""
    data = read([condition("sa"), Q, QR])
    problem = data.clients.set_index("client_id").loc["example", "problem"]
    assert pd.isna(problem) or problem == ""
    (warning,) = data.problems.to_dict("records")
    assert warning["severity"] == "warning" and "Condition/sa" in warning["reason"]
    assert "social_anxiety" in warning["reason"] and "judged on PHQ-9" in warning["reason"]
    assert warning["value"] == "F40.1"


@pytest.mark.parametrize("extra", [
    [condition("stroke", code={"coding": [{"system": "http://snomed.info/sct",
                                           "code": "230690007"}]})],  # no problem of the kit
    [condition("sa", verificationStatus={"coding": [{"code": "refuted"}]})],
    [condition("sa", patient="someone-without-scores")],
    [episode("e", "2022-11-01", status="active", type=[{"text": "Social anxiety"}]),
     condition("sa")],  # the episode gives the problem
], ids=["other code", "refuted", "no scores", "with an episode"])
def test_no_warning_where_a_condition_changes_nothing(extra):
    data = read([*extra, Q, QR])
    assert not data.problems["reason"].str.contains("no EpisodeOfCare").any()
