"""E-mail addresses as Leadflow stores them: normalised, and refused when
they pass for another address (look-alike characters, mixed-script IDN
domains, IP literals) or for an erased lead's placeholder.
"""

from __future__ import annotations

import ipaddress
import unicodedata

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

_email_validator = EmailValidator(message="Enter a valid e-mail address.")

#: Domain of the placeholder address an erased lead gets (crm.privacy). The
#: ``.invalid`` TLD can never be a real mailbox (RFC 2606), and refusing it in
#: normalize_email keeps every upsert, import and form from writing into an
#: erased lead by its placeholder address.
ERASED_EMAIL_DOMAIN = "erased.invalid"


#: Scripts one name may mix: Japanese writes kanji with kana, Korean may
#: write hanja with hangul (the first word of unicodedata.name()).
_SCRIPT_FAMILIES = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "HANGUL": "CJK"}


def _script(char: str) -> str:
    word = unicodedata.name(char, "UNKNOWN").split()[0].split("-")[0]
    return _SCRIPT_FAMILIES.get(word, word)


def _idn_domain_problem(domain: str) -> str | None:
    """Why a non-ASCII (lower-cased, NFC) domain is no honest IDN, or None.

    Each label must be letters, marks and digits of one script (plus ASCII
    digits and hyphens): a Cyrillic a (U+0430) among Latin letters is a
    homoglyph, and invisible or punctuation characters hide what a domain is.
    """
    for label in domain.split("."):
        scripts = set()
        for char in label:
            if char.isascii():
                if char.isalpha():
                    scripts.add("LATIN")
                continue
            category = unicodedata.category(char)
            if category[0] == "L":
                scripts.add(_script(char))
            elif category[0] != "M" and category != "Nd":
                return (
                    f"The domain contains U+{ord(char):04X}, which is not a letter "
                    "or digit; type the plain domain."
                )
        if len(scripts) > 1:
            names = " and ".join(sorted(s.capitalize() for s in scripts))
            return (
                f"{domain} mixes {names} letters in one name, as look-alike "
                "(homoglyph) domains do; type the domain in one alphabet."
            )
    return None


def _idna_decoded(domain: str) -> str:
    try:
        return domain.encode("ascii").decode("idna")
    except UnicodeError:
        return domain  # not valid IDNA: the e-mail check refuses what it must


def _is_ip_address(domain: str) -> bool:
    if domain.startswith("["):
        return True
    try:
        ipaddress.ip_address(domain)
    except ValueError:
        return False
    return True


def normalize_email(raw: str) -> str:
    """Return the e-mail trimmed, with its domain lower-cased and in ASCII.

    The local part keeps its case (some mail servers honour it) but uniqueness
    is checked case-insensitively by the database. An internationalised
    domain is stored in its IDNA form (``xn--``), so both spellings of one
    mailbox are one lead and match one account; a Unicode local part
    (SMTPUTF8) is refused, since most mail systems cannot deliver to it.
    Refused too, as they pass for another address or no company: text that
    compatibility normalisation (NFKC) would change (a full-width at sign
    U+FF20 or letter), a domain that mixes scripts in one name (a Cyrillic a
    U+0430 in ``example.com``) or holds invisible or punctuation characters, and an IP
    address or address literal (``[127.0.0.1]``) instead of a domain name.
    Raises ValidationError with a message for people when it is not an address.
    """
    # Canonical composition is the same text (ü typed as u + diaeresis);
    # compatibility forms only look like the plain characters they stand for.
    email = unicodedata.normalize("NFC", (raw or "").strip())
    if unicodedata.normalize("NFKC", email) != email:
        raise ValidationError(
            "Type the address with plain characters: it contains look-alike "
            "ones (such as a full-width \uff20 or \uff41) that stand for ordinary "
            "letters or signs.",
            code="lookalike",
        )
    local, at, domain = email.rpartition("@")
    domain = domain.lower()
    if at and not local.isascii():
        raise ValidationError(
            "Use an address whose part before the @ is plain ASCII (letters, "
            "digits and . _ + -); Unicode mailbox names are not supported.",
            code="invalid",
        )
    if at and _is_ip_address(domain):
        raise ValidationError(
            "Use an address at a domain name, such as ada@example.com; addresses "
            "at an IP address are not accepted.",
            code="ip_domain",
        )
    # A domain typed in its xn-- form is checked as the Unicode it stands for.
    shown = _idna_decoded(domain) if "xn--" in domain else domain
    if not shown.isascii() and (problem := _idn_domain_problem(shown)):
        raise ValidationError(problem, code="lookalike_domain")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValidationError(
                _email_validator.message, code=_email_validator.code
            ) from None
    email = f"{local}{at}{domain}"
    _email_validator(email)
    if domain.lower() == ERASED_EMAIL_DOMAIN:
        raise ValidationError(
            f"Addresses at {ERASED_EMAIL_DOMAIN} are reserved for erased leads.",
            code="reserved",
        )
    return email
