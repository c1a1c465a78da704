/*
    Argus YARA rules: anti-malware test files.
    SPDX-License-Identifier: Apache-2.0

    The EICAR string is written as hex so that this file is not itself an EICAR test file
    (the `suppress: text_as_hex` comments tell YARA-X this is deliberate).
*/

rule EICAR_Test_File : eicar test
{
    meta:
        description = "EICAR anti-malware test file (the standard 68-byte string at the start of a file of at most 128 bytes)"
        author = "Argus"
        verdict = "malicious"
        reference = "https://www.eicar.org/download-anti-malware-testfile/"
    strings:
        // suppress: text_as_hex
        $eicar = { 58 35 4F 21 50 25 40 41 50 5B 34 5C 50 5A 58 35 34 28 50 5E 29 37 43 43 29 37 7D 24 45 49 43 41 52 2D 53 54 41 4E 44 41 52 44 2D 41 4E 54 49 56 49 52 55 53 2D 54 45 53 54 2D 46 49 4C 45 21 24 48 2B 48 2A }
    condition:
        $eicar at 0 and filesize <= 128
}

rule EICAR_Embedded : eicar test
{
    meta:
        description = "EICAR test string embedded in a larger file (not a conforming EICAR file, but meant to trigger scanners)"
        author = "Argus"
        verdict = "suspicious"
    strings:
        // suppress: text_as_hex
        $eicar = { 58 35 4F 21 50 25 40 41 50 5B 34 5C 50 5A 58 35 34 28 50 5E 29 37 43 43 29 37 7D 24 45 49 43 41 52 2D 53 54 41 4E 44 41 52 44 2D 41 4E 54 49 56 49 52 55 53 2D 54 45 53 54 2D 46 49 4C 45 21 24 48 2B 48 2A }
    condition:
        $eicar and not ($eicar at 0 and filesize <= 128)
}

rule EICAR_Wide : eicar test
{
    meta:
        description = "EICAR test string in UTF-16LE"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $eicar = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE" wide
    condition:
        $eicar
}

rule EICAR_Base64 : eicar test encoded
{
    meta:
        description = "Base64-encoded EICAR test string (mail attachments, web payloads)"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $b64 = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE" base64
    condition:
        $b64
}

rule GTUBE_Spam_Test : test spam
{
    meta:
        description = "GTUBE, the generic test for unsolicited bulk email"
        author = "Argus"
        verdict = "suspicious"
        reference = "https://spamassassin.apache.org/gtube/"
    strings:
        $gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
    condition:
        $gtube
}

rule GTPHISH_Phishing_Test : test phishing
{
    meta:
        description = "GTPHISH, the generic test string for phishing filters"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $gtphish = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTPHISH-STANDARD-ANTI-PHISH-TEST-EMAIL*C.34X"
    condition:
        $gtphish
}

rule Argus_Test_Marker : test
{
    meta:
        description = "Argus's own harmless marker for end-to-end tests of the scanning pipeline"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $marker = "ARGUS-YARA-TEST-MARKER-7f3c2a"
    condition:
        $marker
}
