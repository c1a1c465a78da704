/*
    Argus YARA rules: credential theft tools and stealers.
    SPDX-License-Identifier: Apache-2.0
*/

rule HackTool_Mimikatz : credential_theft hacktool malware
{
    meta:
        description = "Mimikatz (binary, source or console transcript)"
        author = "Argus"
        verdict = "malicious"
    strings:
        $s1 = "sekurlsa::logonpasswords" nocase ascii wide
        $s2 = "gentilkiwi" nocase ascii wide
        $s3 = "mimikatz" nocase ascii wide
        $s4 = "lsadump::sam" nocase ascii wide
        $s5 = "kerberos::golden" nocase ascii wide
        $s6 = "privilege::debug" nocase ascii wide
        $s7 = "Benjamin DELPY" nocase ascii wide
        $s8 = "sekurlsa::pth" nocase ascii wide
        $s9 = "lsadump::dcsync" nocase ascii wide
    condition:
        filesize < 20MB and 2 of them
}

rule HackTool_Invoke_Mimikatz : credential_theft powershell hacktool malware
{
    meta:
        description = "Invoke-Mimikatz PowerShell wrapper with the embedded DLL"
        author = "Argus"
        verdict = "malicious"
    strings:
        $a = "Invoke-Mimikatz" nocase ascii wide
        $b = "$PEBytes64" ascii wide
        $c = "$PEBytes32" ascii wide
        $d = "DumpCreds" nocase ascii wide
    condition:
        filesize < 20MB and $a and 2 of ($b, $c, $d)
}

rule HackTool_LaZagne : credential_theft hacktool
{
    meta:
        description = "LaZagne password recovery tool"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $s1 = "lazagne" nocase ascii wide
        $s2 = "softwares.browsers" ascii
        $s3 = "softwares.windows" ascii
        $s4 = "laZagne.exe" nocase ascii wide
        $s5 = "AlessandroZ" ascii wide
    condition:
        filesize < 50MB and 2 of them
}

rule HackTool_Rubeus : credential_theft kerberos hacktool
{
    meta:
        description = "Rubeus Kerberos abuse toolkit"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $s1 = "Rubeus" ascii wide
        $s2 = "asktgt" ascii wide
        $s3 = "kerberoast" nocase ascii wide
        $s4 = "asreproast" nocase ascii wide
        $s5 = "/impersonateuser:" ascii wide
        $s6 = "harvest" ascii wide
        $s7 = "/ticket:" ascii wide
    condition:
        filesize < 10MB and $s1 and 3 of ($s2, $s3, $s4, $s5, $s6, $s7)
}

rule HackTool_Impacket_Secretsdump : credential_theft hacktool
{
    meta:
        description = "Impacket secretsdump / DCSync tooling"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $s1 = "secretsdump" ascii
        $s2 = "impacket" ascii
        $s3 = "NTDSHashes" ascii
        $s4 = "LSASecrets" ascii
        $s5 = "SAMHashes" ascii
        $s6 = "RemoteOperations" ascii
    condition:
        filesize < 10MB and $s2 and 3 of ($s1, $s3, $s4, $s5, $s6)
}

rule Credential_LSASS_Dump_Command : credential_theft
{
    meta:
        description = "Dumping LSASS memory (procdump, comsvcs.dll MiniDump, Task Manager-style tooling)"
        author = "Argus"
        verdict = "malicious"
    strings:
        $p1 = /procdump(64)?(\.exe)?\s+[^\r\n]{0,40}-ma\s+lsass/ nocase ascii wide
        $p2 = /comsvcs(\.dll)?[,\s]+#?(MiniDump|24)\s/ nocase ascii wide
        $p3 = /rundll32(\.exe)?\s+[^\r\n]{0,60}comsvcs\.dll[^\r\n]{0,10}MiniDump/ nocase ascii wide
        $p4 = "Out-Minidump" nocase ascii wide
        $l = "lsass" nocase ascii wide
    condition:
        filesize < 20MB and ($p1 or (($p2 or $p3 or $p4) and $l))
}

rule Credential_SAM_Hive_Export : credential_theft
{
    meta:
        description = "Exporting the SAM, SYSTEM and SECURITY hives or ntds.dit for offline cracking"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $r1 = /reg(\.exe)?\s+save\s+hklm\\sam\s/ nocase ascii wide
        $r2 = /reg(\.exe)?\s+save\s+hklm\\system\s/ nocase ascii wide
        $r3 = /reg(\.exe)?\s+save\s+hklm\\security\s/ nocase ascii wide
        $n1 = /ntdsutil(\.exe)?\s+["']?ac(tivate)?\s+i(nstance)?\s+ntds["']?\s+["']?ifm["']?/ nocase ascii wide
        $n2 = /copy\s+\\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy\d+\\windows\\ntds\\ntds\.dit/ nocase ascii wide
    condition:
        filesize < 20MB and (2 of ($r*) or any of ($n*))
}

rule Stealer_Browser_Credentials : credential_theft stealer
{
    meta:
        description = "Stealer reading browser password and cookie stores and crypto wallets"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $b1 = "\\Google\\Chrome\\User Data" nocase ascii wide
        $b2 = "\\Mozilla\\Firefox\\Profiles" nocase ascii wide
        $b3 = "\\Microsoft\\Edge\\User Data" nocase ascii wide
        $b4 = "\\BraveSoftware\\Brave-Browser" nocase ascii wide
        $f1 = "Login Data" ascii wide
        $f2 = "logins.json" ascii wide
        $f3 = "key4.db" ascii wide
        $f4 = "Local State" ascii wide
        $f5 = "Cookies" ascii wide
        $w1 = "wallet.dat" nocase ascii wide
        $w2 = "\\Exodus\\exodus.wallet" nocase ascii wide
        $w3 = "\\Electrum\\wallets" nocase ascii wide
        $w4 = "nkbihfbeogaeaoehlefnkodbefgpgknn" ascii wide
    condition:
        filesize < 20MB and 2 of ($b*) and 3 of ($f*) and any of ($w*)
}

rule Stealer_RedLine : credential_theft stealer malware
{
    meta:
        description = "RedLine stealer (.NET) traits"
        author = "Argus"
        verdict = "malicious"
    strings:
        $s1 = "RedLine" ascii wide
        $s2 = "ScannedBrowser" ascii wide
        $s3 = "ScannedFile" ascii wide
        $s4 = "BrowserExtensionsRule" ascii wide
        $s5 = "GdiHelper" ascii wide
        $s6 = "FileScannerRule" ascii wide
        $s7 = "SystemInfoHelper" ascii wide
    condition:
        uint16(0) == 0x5A4D and filesize < 10MB and 4 of them
}

rule Stealer_AgentTesla : credential_theft stealer malware
{
    meta:
        description = "Agent Tesla keylogger / stealer traits"
        author = "Argus"
        verdict = "malicious"
    strings:
        $s1 = "get_enableLog" ascii
        $s2 = "get_Clipboard" ascii
        $s3 = "SmtpClient" ascii
        $s4 = "KeyboardHook" ascii wide
        $s5 = "Screenshot" ascii wide
        $s6 = "IELibrary.dll" ascii wide
        $s7 = "\\Opera Software\\Opera Stable" ascii wide
        $s8 = "\\Comodo\\Dragon\\User Data" ascii wide
    condition:
        uint16(0) == 0x5A4D and filesize < 10MB and 5 of them
}

rule Credential_Private_Keys_In_Files : credential_theft secret
{
    meta:
        description = "Unencrypted private key material (SSH, PGP, PEM) stored as a file"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $k1 = "-----BEGIN RSA PRIVATE KEY-----" ascii
        $k2 = "-----BEGIN OPENSSH PRIVATE KEY-----" ascii
        $k3 = "-----BEGIN EC PRIVATE KEY-----" ascii
        $k4 = "-----BEGIN PGP PRIVATE KEY BLOCK-----" ascii
        $k5 = "-----BEGIN DSA PRIVATE KEY-----" ascii
        $enc = "ENCRYPTED" ascii
    condition:
        filesize < 100KB and any of ($k*) and not $enc
}

rule Credential_Cloud_Keys_Harvesting : credential_theft cloud
{
    meta:
        description = "Script sweeping cloud credential files and instance metadata and sending them out"
        author = "Argus"
        verdict = "malicious"
    strings:
        $c1 = ".aws/credentials" ascii wide
        $c2 = "169.254.169.254/latest/meta-data/iam/security-credentials" ascii wide
        $c3 = ".docker/config.json" ascii wide
        $c4 = ".kube/config" ascii wide
        $c5 = "application_default_credentials.json" ascii wide
        $x1 = "curl " ascii
        $x2 = "--upload-file" ascii
        $x3 = "requests.post" ascii
        $x4 = "base64" ascii
    condition:
        filesize < 2MB and 3 of ($c*) and 2 of ($x*)
}

rule HackTool_Responder_Inveigh : credential_theft hacktool
{
    meta:
        description = "LLMNR/NBT-NS poisoners used to capture NetNTLM hashes (Responder, Inveigh)"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $r1 = "Responder.conf" ascii
        $r2 = "LLMNR poisoner" nocase ascii
        $r3 = "NBT-NS poisoner" nocase ascii
        $i1 = "Invoke-Inveigh" nocase ascii wide
        $i2 = "Inveigh" ascii wide
        $i3 = "NTLMv2 captured" nocase ascii wide
    condition:
        filesize < 10MB and (2 of ($r*) or $i1 or ($i2 and $i3))
}

rule HackTool_Kerberoast_Scripts : credential_theft kerberos hacktool
{
    meta:
        description = "Kerberoasting script (Invoke-Kerberoast, GetUserSPNs)"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $a1 = "Invoke-Kerberoast" nocase ascii wide
        $a2 = "GetUserSPNs" ascii wide
        $a3 = "KerberosRequestorSecurityToken" ascii wide
        $a4 = "servicePrincipalName" ascii wide
        $a5 = "$krb5tgs$" ascii wide
    condition:
        filesize < 10MB and ($a1 or ($a2 and $a5) or ($a3 and $a4 and $a5))
}
