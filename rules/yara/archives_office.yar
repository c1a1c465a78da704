/*
    Argus YARA rules: archive and Office document traits (macros, exploits, disguised payloads).
    SPDX-License-Identifier: Apache-2.0
*/

private rule Argus_Is_OLE
{
    meta:
        description = "OLE2 compound file (legacy Office documents, MSI)"
        author = "Argus"
    condition:
        uint32(0) == 0xE011CFD0 and uint32(4) == 0xE11AB1A1
}

private rule Argus_Is_ZIP
{
    meta:
        description = "ZIP local file header at the start (also OOXML, JAR, APK)"
        author = "Argus"
    condition:
        uint32(0) == 0x04034B50
}

rule Office_OLE_VBA_Macros : office macro
{
    meta:
        description = "Legacy Office document with a VBA project"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $v1 = "_VBA_PROJECT" wide
        $v2 = "VBA" wide
        $v3 = "Attribut" ascii
    condition:
        Argus_Is_OLE and $v1 and ($v2 or $v3)
}

rule Office_OOXML_VBA_Project : office macro
{
    meta:
        description = "OOXML document (docm/xlsm/pptm) carrying vbaProject.bin"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $v = "vbaProject.bin" ascii
    condition:
        Argus_Is_ZIP and $v
}

rule Office_OLE_Macro_AutoExec_Downloader : office macro dropper malware
{
    meta:
        description = "Legacy Office document whose macro runs on open and fetches or runs something"
        author = "Argus"
        verdict = "malicious"
    strings:
        $auto1 = "AutoOpen" nocase
        $auto2 = "Document_Open" nocase
        $auto3 = "Workbook_Open" nocase
        $x1 = "URLDownloadToFile" nocase
        $x2 = "XMLHTTP" nocase
        $x3 = "WScript.Shell" nocase
        $x4 = "powershell" nocase
        $x5 = "ADODB.Stream" nocase
    condition:
        Argus_Is_OLE and any of ($auto*) and 2 of ($x*)
}

rule Office_Excel4_Macro_Sheet : office macro
{
    meta:
        description = "Excel 4.0 (XLM) macro sheet with auto-run and EXEC/CALL/REGISTER"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $auto = "Auto_Open" nocase ascii wide
        $m1 = "EXEC(" nocase ascii wide
        $m2 = "CALL(" nocase ascii wide
        $m3 = "REGISTER(" nocase ascii wide
        $m4 = "URLDownloadToFileA" nocase ascii wide
        $sheet = "xl/macrosheets/" ascii
    condition:
        (Argus_Is_OLE or Argus_Is_ZIP) and ($auto or $sheet) and 2 of ($m*)
}

rule Office_RTF_Equation_Editor_Exploit : office exploit malware
{
    meta:
        description = "RTF embedding an Equation Editor 3.0 object (CVE-2017-11882 / CVE-2018-0802)"
        author = "Argus"
        verdict = "malicious"
    strings:
        $obj = "\\objdata" nocase
        $eq1 = "Equation.3" nocase ascii
        $eq2 = "4571756174696F6E2E33" nocase ascii
        $eq3 = "0002CE020000000000C000000000000046" nocase ascii
    condition:
        uint32(0) == 0x74725C7B and $obj and any of ($eq*)
}

rule Office_RTF_Embedded_OLE_Object : office
{
    meta:
        description = "RTF with an embedded OLE object holding an executable or script package"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $o1 = "\\objemb" nocase
        $o2 = "\\objupdate" nocase
        $p1 = "5061636b616765" nocase ascii
        $p2 = "4d5a90" nocase ascii
        $p3 = "2e657865" nocase ascii
    condition:
        uint32(0) == 0x74725C7B and any of ($o*) and any of ($p*)
}

rule Office_DDE_Field : office exploit
{
    meta:
        description = "Office document with a DDE/DDEAUTO field launching a command"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $d1 = /DDEAUTO\s+["']?c:\\\\?windows\\\\?system32\\\\?cmd\.exe/ nocase
        $d2 = /<w:instrText[^>]{0,40}>\s*DDEAUTO/ nocase
        $d3 = /\{\\field[^}]{0,40}DDEAUTO/ nocase
    condition:
        filesize < 20MB and any of them
}

rule Office_Remote_Template_Injection : office
{
    meta:
        description = "OOXML relationship loading an attached template from a remote URL (template injection)"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $rel = "relationships/attachedTemplate" ascii
        $ext = /Target="https?:\/\/[^"]{4,200}"\s+TargetMode="External"/ ascii
    condition:
        filesize < 5MB and $rel and $ext
}

rule Office_Follina_MSDT : office exploit malware
{
    meta:
        description = "ms-msdt: protocol abuse from a document or HTML (Follina, CVE-2022-30190)"
        author = "Argus"
        verdict = "malicious"
    strings:
        $a = "ms-msdt:" nocase ascii wide
        $b = "IT_RebrowseForFile" nocase ascii wide
        $c = "PCWDiagnostic" nocase ascii wide
        $d = "location.href" nocase ascii
    condition:
        filesize < 5MB and $a and ($b or $c or $d)
}

rule Archive_ZIP_With_Executable_Only : archive dropper
{
    meta:
        description = "Small ZIP whose first entry is an executable or script (mail-borne dropper)"
        author = "Argus"
        verdict = "suspicious"
    condition:
        // The first entry's name is at 30, uint16(26) bytes long: compare its last four
        // bytes, lower-cased, with the risky extensions.
        Argus_Is_ZIP and filesize < 5MB and
        uint16(26) > 4 and uint16(26) < 256 and
        for any ext in (
            0x2E657865, 0x2E736372, 0x2E706966, 0x2E636F6D, 0x2E6A7365, 0x2E766273,
            0x2E766265, 0x2E777366, 0x2E687461, 0x2E6C6E6B, 0x2E626174, 0x2E636D64,
            0x2E707331, 0x2E69736F, 0x2E696D67
        ) : ((uint32be(26 + uint16(26)) | 0x00202020) == ext)
}

rule Archive_Double_Extension_Entry : archive masquerade
{
    meta:
        description = "Archive entry with a document extension followed by an executable one (invoice.pdf.exe)"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $d = /[A-Za-z0-9_\-]{1,80}\.(pdf|docx?|xlsx?|jpe?g|png|txt|rtf)[ _]{0,40}\.(exe|scr|pif|com|js|vbs|bat|cmd|lnk|hta)/ nocase
    condition:
        (Argus_Is_ZIP or uint32(0) == 0x21726152 or uint16(0) == 0xAFBC) and filesize < 50MB and $d
}

rule Archive_Encrypted_ZIP_Small : archive evasion
{
    meta:
        description = "Small ZIP whose first entry is encrypted (password in the mail body, a scanner bypass)"
        author = "Argus"
        verdict = "suspicious"
    condition:
        Argus_Is_ZIP and filesize < 2MB and (uint16(6) & 0x1) == 1
}

rule Windows_LNK_Runs_Script_Host : lnk dropper
{
    meta:
        description = "Windows shortcut (.lnk) running PowerShell, mshta, cmd or a script host with arguments"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $p1 = "powershell" nocase ascii wide
        $p2 = "mshta" nocase ascii wide
        $p3 = "cmd.exe" nocase ascii wide
        $p4 = "wscript" nocase ascii wide
        $p5 = "cscript" nocase ascii wide
        $p6 = "rundll32" nocase ascii wide
        $a1 = "http" nocase ascii wide
        $a2 = "-enc" nocase ascii wide
        $a3 = "/c " nocase ascii wide
        $a4 = "hidden" nocase ascii wide
    condition:
        uint32(0) == 0x0000004C and uint32(4) == 0x00021401 and filesize < 1MB and
        any of ($p*) and any of ($a*)
}

rule Disk_Image_With_Executable : archive iso dropper
{
    meta:
        description = "ISO 9660 image carrying an executable or shortcut (Mark-of-the-Web bypass container)"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $cd001 = "CD001" ascii
        $mz = { 4D 5A 90 00 03 00 00 00 }
        $lnk = { 4C 00 00 00 01 14 02 00 }
    condition:
        filesize < 100MB and $cd001 at 0x8001 and ($mz or $lnk)
}

rule PDF_JavaScript_OpenAction : pdf
{
    meta:
        description = "PDF running JavaScript when opened"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $js1 = "/JavaScript" ascii
        $js2 = "/JS" ascii
        $oa1 = "/OpenAction" ascii
        $oa2 = "/AA" ascii
        $ev1 = "eval(" ascii
        $ev2 = "unescape(" ascii
        $ev3 = "String.fromCharCode" ascii
    condition:
        uint32(0) == 0x46445025 and filesize < 20MB and any of ($js*) and any of ($oa*) and any of ($ev*)
}

rule PDF_Launch_Action : pdf exploit
{
    meta:
        description = "PDF with a /Launch action starting a program"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $l = "/Launch" ascii
        $w1 = "cmd.exe" nocase ascii
        $w2 = "powershell" nocase ascii
        $w3 = "/Win" ascii
    condition:
        uint32(0) == 0x46445025 and filesize < 20MB and $l and any of ($w*)
}

rule PDF_Embedded_Executable : pdf dropper
{
    meta:
        description = "PDF with an embedded file whose name is an executable"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $e = "/EmbeddedFile" ascii
        $n = /\/F\s*\([^)]{1,100}\.(exe|scr|js|vbs|hta|bat|cmd|ps1)\)/ nocase ascii
    condition:
        uint32(0) == 0x46445025 and filesize < 20MB and $e and $n
}

rule Java_JAR_Runtime_Exec_Dropper : archive java
{
    meta:
        description = "JAR dropper: a manifest Main-Class with a known RAT package (Adwind/jRAT/STRRAT)"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $m = "META-INF/MANIFEST.MF" ascii
        $r1 = "drop.box" ascii
        $r2 = "mega.download" ascii
        $r3 = "carlambo" ascii
        $r4 = "strrat" nocase ascii
        $r5 = "jrat" nocase ascii
    condition:
        Argus_Is_ZIP and $m and any of ($r*)
}
