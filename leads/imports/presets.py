"""Target fields, column presets and the word tables of CSV imports.

Everything here is data plus pure functions: no database, no HTTP. Header
names and values are compared after ``normalize_word`` (lower case, letters
and digits only), so "Country/Region", "country region" and "COUNTRY_REGION"
are the same word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from leads.models import ImportJob, Industry, Lead, Stage
from leads.titles import Department, Seniority

LEADS = ImportJob.Kind.LEADS
TOUCHPOINTS = ImportJob.Kind.TOUCHPOINTS

#: The mapping target that keeps a column as a free-form attribute (leads) or
#: property (touchpoints) under the column's own name.
FREEFORM = {LEADS: "attributes", TOUCHPOINTS: "properties"}
#: The mapping target of a column skipped on purpose: never stored, not even
#: as a free-form value when unmapped columns are kept. A column mapped to ""
#: is merely unmapped (kept or dropped as ``keep_unmapped`` says).
SKIP = "skip"


def normalize_word(text: str) -> str:
    """``"Country/Region"`` -> ``"countryregion"``: how headers and values match."""
    return re.sub(r"[^a-z0-9]+", "", (text or "").lower())


def freeform_key(column: str, position: int) -> str:
    """The free-form key of a column: ``"Lead Status"`` -> ``lead_status``."""
    key = re.sub(r"[^a-z0-9]+", "_", column.lower()).strip("_")
    return key or f"column_{position + 1}"


# Target fields
# ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetField:
    code: str
    label: str
    required: bool = False


LEAD_FIELDS: tuple[TargetField, ...] = (
    TargetField("email", "E-mail", required=True),
    TargetField("first_name", "First name"),
    TargetField("last_name", "Last name"),
    TargetField("job_title", "Job title"),
    TargetField("seniority_override", "Seniority"),
    TargetField("department", "Department"),
    TargetField("phone", "Phone"),
    TargetField("country", "Country"),
    TargetField("source", "Source"),
    TargetField("utm_source", "UTM source"),
    TargetField("utm_medium", "UTM medium"),
    TargetField("utm_campaign", "UTM campaign"),
    TargetField("utm_term", "UTM term"),
    TargetField("utm_content", "UTM content"),
    TargetField("owner", "Owner (username, e-mail or full name)"),
    TargetField("do_not_email", "Do not e-mail (yes/no)"),
    TargetField("do_not_call", "Do not call (yes/no)"),
    TargetField("stage", "Lifecycle stage"),
    TargetField("created_at", "Created date"),
    TargetField("mql_at", "Became an MQL (date)"),
    TargetField("sql_at", "Became an SQL (date)"),
    TargetField("opportunity_at", "Became an opportunity (date)"),
    TargetField("customer_at", "Became a customer (date)"),
    TargetField("account_name", "Company name"),
    TargetField("account_domain", "Company domain or website"),
    TargetField("industry", "Industry"),
    TargetField("employee_count", "Number of employees"),
    TargetField("annual_revenue", "Annual revenue (USD)"),
    TargetField("attributes", "Keep as attribute"),
)

#: The date fields that say when a lead reached a stage, by stage code: the
#: imported history puts each move at its date (see
#: ``leads.imports.lead_chunks.import_path``).
STAGE_DATE_FIELDS: dict[str, str] = {
    "mql_at": "mql",
    "sql_at": "sql",
    "opportunity_at": "opportunity",
    "customer_at": "customer",
}

TOUCHPOINT_FIELDS: tuple[TargetField, ...] = (
    TargetField("lead_email", "Lead e-mail", required=True),
    TargetField("kind", "Touchpoint kind", required=True),
    TargetField("occurred_at", "Occurred at", required=True),
    TargetField("campaign", "Campaign name"),
    TargetField("utm_source", "UTM source"),
    TargetField("utm_medium", "UTM medium"),
    TargetField("utm_campaign", "UTM campaign"),
    TargetField("external_id", "External id"),
    TargetField("properties", "Keep as property"),
)

TARGET_FIELDS: dict[str, tuple[TargetField, ...]] = {
    LEADS: LEAD_FIELDS,
    TOUCHPOINTS: TOUCHPOINT_FIELDS,
}


def target_codes(kind: str) -> list[str]:
    return [f.code for f in TARGET_FIELDS[kind]]


# Presets: which CSV column fills which field
# ------------------------------------------------------------------------------

HUBSPOT = "hubspot"
SALESFORCE = "salesforce"
LEADFLOW = "leadflow"
PRESET_CHOICES: list[tuple[str, str]] = [
    (HUBSPOT, "HubSpot export"),
    (SALESFORCE, "Salesforce export"),
    (LEADFLOW, "Leadflow (our field names)"),
]

# Column names as the exports write them (matched after normalize_word).
_HUBSPOT_LEADS = {
    "First Name": "first_name",
    "Last Name": "last_name",
    "Email": "email",
    "Job Title": "job_title",
    "Phone Number": "phone",
    "Country/Region": "country",
    "Country": "country",
    "Company Name": "account_name",
    "Company Domain Name": "account_domain",
    "Website URL": "account_domain",
    "Industry": "industry",
    "Number of Employees": "employee_count",
    "Annual Revenue": "annual_revenue",
    "Lifecycle Stage": "stage",
    "Create Date": "created_at",
    "Became a Marketing Qualified Lead Date": "mql_at",
    "Became a Sales Qualified Lead Date": "sql_at",
    "Became an Opportunity Date": "opportunity_at",
    "Became a Customer Date": "customer_at",
    "Original Source": "source",
    "Lead Source": "source",
    # HubSpot's lead status is a sales-activity flag, not a lifecycle stage.
    "Lead Status": "attributes",
    "Contact owner": "owner",
    "Unsubscribed from all email": "do_not_email",
}
_SALESFORCE_LEADS = {
    "First Name": "first_name",
    "Last Name": "last_name",
    "Email": "email",
    "Title": "job_title",
    "Phone": "phone",
    "Country": "country",
    "Company": "account_name",
    "Website": "account_domain",
    "Industry": "industry",
    "No. of Employees": "employee_count",
    "Annual Revenue": "annual_revenue",
    "Lead Source": "source",
    "Status": "stage",
    "Lead Status": "stage",
    "Created Date": "created_at",
    # A Salesforce lead is converted (to a contact and an opportunity) when
    # sales takes it on: the moment it became sales-qualified.
    "Converted Date": "sql_at",
    "Lead Owner": "owner",
    "Email Opt Out": "do_not_email",
    "Do Not Call": "do_not_call",
    "Rating": "attributes",
}
_HUBSPOT_TOUCHPOINTS = {
    "Email": "lead_email",
    "Event Type": "kind",
    "Activity Type": "kind",
    "Timestamp": "occurred_at",
    "Activity Date": "occurred_at",
    "Event Date": "occurred_at",
    "Campaign": "campaign",
    "Campaign Name": "campaign",
    "Event ID": "external_id",
    "Activity ID": "external_id",
    "URL": "properties",
    "Page URL": "properties",
}
_SALESFORCE_TOUCHPOINTS = {
    "Email": "lead_email",
    "Type": "kind",
    "Activity Type": "kind",
    "Created Date": "occurred_at",
    "Activity Date": "occurred_at",
    "Campaign Name": "campaign",
    "Campaign": "campaign",
    "Campaign Member ID": "external_id",
    "Activity ID": "external_id",
}
_LEADFLOW_TOUCHPOINTS = {"email": "lead_email", "url": "properties"}

PRESETS: dict[str, dict[str, dict[str, str]]] = {
    HUBSPOT: {LEADS: _HUBSPOT_LEADS, TOUCHPOINTS: _HUBSPOT_TOUCHPOINTS},
    SALESFORCE: {LEADS: _SALESFORCE_LEADS, TOUCHPOINTS: _SALESFORCE_TOUCHPOINTS},
    LEADFLOW: {LEADS: {}, TOUCHPOINTS: _LEADFLOW_TOUCHPOINTS},
}


def mapping_suggest(header: list[str], *, kind: str, preset: str) -> dict[str, str]:
    """A mapping of every column to a field ("" = not mapped) for ``preset``.

    A column the preset does not name still maps when it is spelled like one
    of our field codes or labels ("email", "Job title"), so Leadflow's own
    files work with any preset. A field already taken by an earlier column is
    not suggested twice (the free-form target can be).
    """
    table = {
        normalize_word(column): field
        for column, field in PRESETS.get(preset, {}).get(kind, {}).items()
    }
    ours: dict[str, str] = {}
    for target in TARGET_FIELDS[kind]:
        if target.code != FREEFORM[kind]:
            ours.setdefault(normalize_word(target.code), target.code)
            ours.setdefault(normalize_word(target.label), target.code)
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for column in header:
        word = normalize_word(column)
        field = table.get(word) or ours.get(word, "")
        if field in taken and field != FREEFORM[kind]:
            field = ""
        if field:
            taken.add(field)
        mapping[column] = field
    return mapping


# Lifecycle stages of other CRMs
# ------------------------------------------------------------------------------

#: Stage words of HubSpot ("Lifecycle Stage", internal names or labels) and
#: Salesforce (the lead "Status" picklist, standard and common custom values)
#: mapped to our stage codes. Our own codes and labels are added below.
#:
#: ====================================  ============  =========================
#: the file says                         stage         why
#: ====================================  ============  =========================
#: HubSpot subscriber, lead              lead          known, not qualified
#: HubSpot marketingqualifiedlead        mql
#: HubSpot salesqualifiedlead            sql           passes sal on the way
#: HubSpot opportunity                   opportunity
#: HubSpot customer, evangelist          customer      an evangelist buys too
#: HubSpot other                         nurture       parked, may come back
#: Salesforce Open - Not Contacted       lead          see below
#: Salesforce Working - Contacted        sal           an SDR accepted it
#: Salesforce Closed - Converted         sql           sales qualified it
#: Salesforce Closed - Not Converted     disqualified  sales closed it
#: New, Open                             lead
#: MQL, Marketing Qualified              mql
#: Working, Contacted, Accepted, SAL     sal
#: Qualified, SQL                        sql
#: Closed Won, Won                       customer
#: Nurturing, Recycled                   nurture
#: Unqualified, Closed Lost, Junk        disqualified
#: ====================================  ============  =========================
#:
#: "Open - Not Contacted" is Salesforce's default status for every new lead,
#: so it says nothing about qualification: importing such leads as MQLs would
#: inflate the MQL count and every funnel rate. "Closed - Converted" becomes
#: sql, not opportunity, because converting need not create an opportunity.
STAGE_WORDS: dict[str, str] = {
    # HubSpot
    "subscriber": Stage.LEAD,
    "lead": Stage.LEAD,
    "marketingqualifiedlead": Stage.MQL,
    "salesqualifiedlead": Stage.SQL,
    "opportunity": Stage.OPPORTUNITY,
    "customer": Stage.CUSTOMER,
    "evangelist": Stage.CUSTOMER,
    "other": Stage.NURTURE,
    # Salesforce standard lead statuses
    "opennotcontacted": Stage.LEAD,
    "workingcontacted": Stage.SAL,
    "closedconverted": Stage.SQL,
    "closednotconverted": Stage.DISQUALIFIED,
    # Common custom values in either CRM
    "new": Stage.LEAD,
    "open": Stage.LEAD,
    "marketingqualified": Stage.MQL,
    "working": Stage.SAL,
    "contacted": Stage.SAL,
    "accepted": Stage.SAL,
    "salesaccepted": Stage.SAL,
    "salesacceptedlead": Stage.SAL,
    "qualified": Stage.SQL,
    "salesqualified": Stage.SQL,
    "closedwon": Stage.CUSTOMER,
    "won": Stage.CUSTOMER,
    "nurturing": Stage.NURTURE,
    "recycled": Stage.NURTURE,
    "unqualified": Stage.DISQUALIFIED,
    "closedlost": Stage.DISQUALIFIED,
    "junk": Stage.DISQUALIFIED,
}
for _code, _label in Stage.choices:
    STAGE_WORDS.setdefault(normalize_word(_code), _code)
    STAGE_WORDS.setdefault(normalize_word(_label), _code)


def stage_from_word(word: str) -> str | None:
    """Our stage code for a stage word of any supported CRM, or None if unknown."""
    return STAGE_WORDS.get(normalize_word(word))


# Touchpoint kinds of other CRMs
# ------------------------------------------------------------------------------

#: Activity words of HubSpot (event and engagement types such as EMAIL_OPEN,
#: FORM_SUBMISSION, CALL, MEETING, and their labels such as "Email Opened"),
#: Salesforce (task and activity types: "Call", "Logged Call", "Meeting") and
#: Marketo (activity types: "Open Email", "Click Email", "Fill Out Form",
#: "Visit Webpage", "Send SMS"), mapped to our touchpoint kind codes. Our own
#: kinds' codes and labels come first (``touchpoint_chunks.kind_words``); a
#: word here counts only while its kind is active.
#:
#: A booked or scheduled meeting ("Meeting Booked", "Meeting Scheduled": the
#: lead took a slot through a scheduling link) is ``demo_request``: the lead
#: asked to talk to sales, the high-intent kind that stands for it. A bare
#: "MEETING" (HubSpot's engagement type, Salesforce's event and task type) is
#: a meeting a rep logged, before or long after any hand-raise, so it is not
#: high intent: it is ``call``, the neutral kind of a conversation a rep has
#: with the lead and logs. Sent e-mails are in ``OUTBOUND_EMAIL_WORDS``.
_ACTIVITY_GROUPS: dict[str, str] = {
    "page_view": "PAGE_VIEW|Page Viewed|Visit Webpage|Visited Webpage|Web Page Visit"
    "|Page Visit|Website Visit|Viewed Page",
    "content_download": "Downloaded Content|Download|File Download|Asset Download"
    "|Content Downloaded",
    "email_open": "EMAIL_OPEN|Email Opened|Open Email|Opened Email",
    "email_click": "EMAIL_CLICK|Email Clicked|Click Email|Clicked Email"
    "|Click Link in Email|Email Link Clicked",
    "email_bounce": "EMAIL_BOUNCE|Email Bounced|Email Bounced Soft|Bounced Email"
    "|Hard Bounce|Soft Bounce",
    "unsubscribe": "Unsubscribed|Unsubscribe Email|EMAIL_UNSUBSCRIBE"
    "|Email Unsubscribed|Opted Out",
    "form_submit": "FORM_SUBMISSION|Form Submitted|Fill Out Form|Filled Out Form"
    "|Form Fill|Form Submit",
    "webinar_registered": "Webinar Registered|Registered for Webinar"
    "|Webinar Registration|Register for Webinar",
    "webinar_attended": "Webinar Attended|Attended Webinar|Attend Webinar"
    "|Webinar Attendance",
    "demo_request": "Demo Requested|Request Demo|Requested Demo"
    "|Meeting Booked|Booked Meeting|Scheduled Meeting|Meeting Scheduled",
    "trial_signup": "Trial Started|Started Trial|Free Trial|Trial Signup",
    "cart_add": "Add to Cart|Added to Cart",
    "call": "CALL|Logged Call|Call Logged|Phone Call|Inbound Call"
    "|Outbound Call|Received Call|MEETING|Logged Meeting|Meeting Logged",
    "sms": "SMS|Send SMS|SMS Sent|Received SMS|SMS Received|Text Message",
    "chat": "Chat|Chat Started|Live Chat|Chat Conversation|Conversation Started"
    "|CONVERSATION_SESSION",
}
ACTIVITY_WORDS: dict[str, str] = {
    normalize_word(word): kind
    for kind, words in _ACTIVITY_GROUPS.items()
    for word in words.split("|")
}

#: E-mails sent to the lead, by a rep or a campaign: Salesforce's "Send Email"
#: and "Email Sent" (and its task type "Email", a logged outbound e-mail),
#: Marketo's "Send Email" and "Email Delivered", HubSpot's EMAIL_SENT. A send
#: is our action, not the lead's engagement (the lead's are the open, the
#: click, the bounce), so, as scoring and attribution in other CRMs ignore
#: sends, such a row is skipped with a note (counted unchanged, never
#: rejected) unless an active kind of ours has that word.
OUTBOUND_EMAIL_WORDS: frozenset[str] = frozenset(
    normalize_word(word)
    for word in [
        "Send Email",
        "Email Sent",
        "Sent Email",
        "EMAIL_SENT",
        "EMAIL_SEND",
        "Email Send",
        "Email Delivered",
        "Delivered Email",
        "EMAIL_DELIVERED",
        "Outbound Email",
        "Email",
    ]
)


# Sources, industries, choices
# ------------------------------------------------------------------------------

Source = Lead.Source

#: HubSpot "Original Source" / "Lead Source" values (internal names such as
#: ORGANIC_SEARCH and labels such as "Organic Search") and Salesforce "Lead
#: Source" values, mapped to our source codes. A value not listed is not the
#: file's fault: the lead's source becomes ``other`` and the text is kept as
#: the attribute ``source`` (``leads.imports.rows``).
SOURCE_WORDS: dict[str, str] = {
    # HubSpot (internal names and labels normalise alike)
    "organicsearch": Source.ORGANIC_SEARCH,
    "paidsearch": Source.PAID_SEARCH,
    "emailmarketing": Source.EMAIL,
    "socialmedia": Source.SOCIAL,
    "organicsocial": Source.SOCIAL,
    "paidsocial": Source.PAID_SOCIAL,
    "referrals": Source.REFERRAL,
    "aireferrals": Source.REFERRAL,
    "othercampaigns": Source.OTHER,
    "directtraffic": Source.DIRECT,
    "offline": Source.OTHER,
    "offlinesources": Source.OTHER,
    # Salesforce
    "web": Source.DIRECT,
    "phoneinquiry": Source.DIRECT,
    "partnerreferral": Source.PARTNER,
    "purchasedlist": Source.OUTBOUND,
    "advertisement": Source.OTHER,
    "employeereferral": Source.REFERRAL,
    "externalreferral": Source.REFERRAL,
    "publicrelations": Source.OTHER,
    "seminarinternal": Source.EVENT,
    "seminarpartner": Source.EVENT,
    "tradeshow": Source.EVENT,
    "wordofmouth": Source.REFERRAL,
    "webinar": Source.EVENT,
}
for _code, _label in Source.choices:
    SOURCE_WORDS.setdefault(normalize_word(_code), _code)
    SOURCE_WORDS.setdefault(normalize_word(_label), _code)


def source_from_word(word: str) -> str | None:
    """Our source code for a source word of any supported CRM, or None."""
    return SOURCE_WORDS.get(normalize_word(word))


#: HubSpot and Salesforce industry values (and LinkedIn's, which HubSpot uses).
#: A value not listed becomes ``other``.
_INDUSTRY_GROUPS: dict[str, str] = {
    Industry.SOFTWARE: "software computersoftware technology internet saas"
    " informationtechnologyandservices informationtechnology computernetworksecurity",
    Industry.FINANCIAL_SERVICES: "finance financialservices banking insurance"
    " investmentmanagement capitalmarkets accounting",
    Industry.HEALTHCARE: "healthcare hospitalhealthcare hospitalandhealthcare"
    " medical medicaldevices pharmaceuticals biotechnology",
    Industry.MANUFACTURING: "manufacturing machinery automotive"
    " industrialautomation chemicals electricalelectronicmanufacturing",
    Industry.RETAIL: "retail ecommerce consumergoods apparelfashion",
    Industry.EDUCATION: "education educationmanagement highereducation elearning",
    Industry.GOVERNMENT: "government governmentadministration publicsector",
    Industry.MEDIA: "media entertainment publishing broadcastmedia onlinemedia",
    Industry.TELECOM: "telecom telecommunications wireless",
    Industry.PROFESSIONAL_SERVICES: "consulting managementconsulting"
    " professionalservices legalservices lawpractice marketingandadvertising",
    Industry.LOGISTICS: "transportation logistics logisticsandsupplychain shipping"
    " transportationtruckingrailroad",
    Industry.ENERGY: "energy utilities oilenergy oilandenergy renewablesenvironment",
    Industry.NONPROFIT: "nonprofit notforprofit nonprofitorganizationmanagement"
    " philanthropy",
}
INDUSTRY_WORDS: dict[str, str] = {
    word: str(industry)
    for industry, words in _INDUSTRY_GROUPS.items()
    for word in words.split()
}
for _code, _label in Industry.choices:
    INDUSTRY_WORDS.setdefault(normalize_word(_code), _code)
    INDUSTRY_WORDS.setdefault(normalize_word(_label), _code)


def industry_from_word(word: str) -> str:
    return INDUSTRY_WORDS.get(normalize_word(word), Industry.OTHER)


def _choice_words(choices: list[tuple[str, str]]) -> dict[str, str]:
    words: dict[str, str] = {}
    for code, label in choices:
        words.setdefault(normalize_word(code), code)
        words.setdefault(normalize_word(label), code)
    return words


SENIORITY_WORDS = _choice_words(Seniority.choices)
DEPARTMENT_WORDS = _choice_words(Department.choices)
