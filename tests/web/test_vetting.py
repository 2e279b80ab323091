"""Vetting in a real browser: a host completes an accreditation with its certificate, a
coordinator opens the evidence and verifies the host saying what they saw, and the host's
change of website lapses the verification."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.web.conftest import LiveServer
from tests.web.helpers import account, sign_in, unique_email

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


def test_evidence_upload_and_verification(
    browser: Any, page: Any, live_server: LiveServer, check_a11y: Any, shoot: Any
) -> None:
    tag = unique_email("x")[2:8]
    org_name = f"Quay Pathology {tag}"
    sign_in(page, account(live_server.settings, "employer", name="Priya Shah"))
    page.get_by_label("Organisation name").fill(org_name)
    page.get_by_label("Kind of host").select_option("clinical_lab")
    page.get_by_label("Accreditations").fill("ISO 15189")
    page.get_by_label("Website").fill("https://quay.example")
    page.get_by_role("button", name="Create organisation").click()
    expect(page.get_by_role("heading", name="ISO 15189")).to_be_visible()
    expect(page.get_by_text("to complete")).to_be_visible()

    # Completing it: a file that is not a PDF or an image is refused, by its content.
    page.get_by_role("link", name="Complete ISO 15189").click()
    page.get_by_label("Accrediting body").fill("UKAS")
    page.get_by_label("Accreditation or certificate number").fill("8123")
    expires = date.today() + timedelta(days=400)
    page.get_by_label("Expiry date").fill(expires.isoformat())
    page.get_by_label("Certificate file").set_input_files(
        {"name": "certificate.pdf", "mimeType": "application/pdf", "buffer": b"<html></html>"}
    )
    page.get_by_role("button", name="Save accreditation").click()
    expect(page.locator("#evidence-error")).to_contain_text("not a PDF, PNG or JPEG")
    check_a11y(page, "accreditation form with errors")
    shoot(page, "employer-accreditation-form")
    page.get_by_label("Certificate file").set_input_files(
        {"name": "UKAS schedule.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    page.get_by_role("button", name="Save accreditation").click()
    expect(page.get_by_text("ISO 15189 is saved.")).to_be_visible()
    expect(page.get_by_text("current", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="UKAS schedule.pdf")).to_be_visible()
    check_a11y(page, "organisation with accreditations")
    shoot(page, "employer-accreditations")

    # The coordinator opens the evidence and verifies, saying what they saw.
    other = browser.new_context(base_url=live_server.url, accept_downloads=True)
    coordinator = other.new_page()
    sign_in(coordinator, account(live_server.settings, "coordinator", name="Cora Lane"))
    coordinator.get_by_role("link", name="Hosts", exact=True).click()
    coordinator.get_by_role("link", name=f"Review and verify {org_name}").click()
    expect(coordinator.get_by_role("heading", name=f"Vetting {org_name}")).to_be_visible()
    with coordinator.expect_download() as download:
        coordinator.get_by_role("link", name="UKAS schedule.pdf").click()
    assert download.value.suggested_filename == "UKAS schedule.pdf"
    assert Path(download.value.path()).read_bytes() == PDF
    check_a11y(coordinator, "host vetting page")
    shoot(coordinator, "coordinator-host-vetting")
    coordinator.get_by_label("What did you check?").fill("UKAS schedule 8123 on the UKAS site")
    coordinator.get_by_role("button", name=f"Verify {org_name}").click()
    expect(coordinator.get_by_text(f"{org_name} is verified")).to_be_visible()
    expect(coordinator.get_by_text("“UKAS schedule 8123 on the UKAS site”")).to_be_visible()

    # The host points its website elsewhere: the verification lapses, and says why.
    page.reload()
    expect(page.get_by_text(f"{org_name} is verified.")).to_be_visible()
    page.get_by_label("Website").fill("https://elsewhere.example")
    page.get_by_role("button", name="Save organisation").click()
    expect(page.get_by_text("will verify it again")).to_be_visible()
    expect(page.get_by_role("heading", name="Awaiting verification")).to_be_visible()
    coordinator.reload()
    expect(coordinator.get_by_text("The host changed its website.").first).to_be_visible()
    other.close()
