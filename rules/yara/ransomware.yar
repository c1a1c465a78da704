/*
    Argus YARA rules: ransomware (notes, recovery sabotage, family strings).
    SPDX-License-Identifier: Apache-2.0
*/

rule Ransom_Note_Generic : ransomware note
{
    meta:
        description = "Ransom note: files encrypted, pay in bitcoin / contact over Tor for the decryptor"
        author = "Argus"
        verdict = "malicious"
    strings:
        $e1 = "your files have been encrypted" nocase ascii wide
        $e2 = "all your files are encrypted" nocase ascii wide
        $e3 = "your important files are encrypted" nocase ascii wide
        $e4 = "your network has been penetrated" nocase ascii wide
        $e5 = "all of your files have been encrypted" nocase ascii wide
        $p1 = "bitcoin" nocase ascii wide
        $p2 = ".onion" nocase ascii wide
        $p3 = "decrypt" nocase ascii wide
        $p4 = "private key" nocase ascii wide
        $p5 = "Tor Browser" nocase ascii wide
    condition:
        filesize < 1MB and any of ($e*) and 2 of ($p*)
}

rule Ransom_Note_Double_Extortion : ransomware note
{
    meta:
        description = "Ransom note threatening to publish stolen data (double extortion)"
        author = "Argus"
        verdict = "malicious"
    strings:
        $l1 = "we have downloaded" nocase ascii wide
        $l2 = "data will be published" nocase ascii wide
        $l3 = "will be leaked" nocase ascii wide
        $l4 = "our blog" nocase ascii wide
        $l5 = "leak site" nocase ascii wide
        $c1 = "encrypted" nocase ascii wide
        $c2 = ".onion" nocase ascii wide
        $c3 = "decryption" nocase ascii wide
    condition:
        filesize < 1MB and 2 of ($l*) and 2 of ($c*)
}

rule Ransom_Shadow_Copy_Deletion : ransomware recovery
{
    meta:
        description = "Deleting volume shadow copies and backups (vssadmin, wmic, wbadmin)"
        author = "Argus"
        verdict = "malicious"
    strings:
        $v1 = /vssadmin(\.exe)?\s+delete\s+shadows\s+\/all/ nocase ascii wide
        $v2 = /wmic(\.exe)?\s+shadowcopy\s+delete/ nocase ascii wide
        $v3 = /wbadmin(\.exe)?\s+delete\s+(catalog|backup|systemstatebackup)/ nocase ascii wide
        $v4 = /vssadmin(\.exe)?\s+resize\s+shadowstorage\s+[^\r\n]{1,60}\/maxsize=401MB/ nocase ascii wide
        $v5 = "Get-WmiObject Win32_Shadowcopy | ForEach-Object {$_.Delete()" nocase ascii wide
    condition:
        filesize < 20MB and any of them
}

rule Ransom_Boot_Recovery_Disabled : ransomware recovery
{
    meta:
        description = "Disabling Windows recovery with bcdedit"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $b1 = /bcdedit(\.exe)?\s+\/set\s+\{default\}\s+recoveryenabled\s+no/ nocase ascii wide
        $b2 = /bcdedit(\.exe)?\s+\/set\s+\{default\}\s+bootstatuspolicy\s+ignoreallfailures/ nocase ascii wide
    condition:
        filesize < 20MB and any of them
}

rule Ransom_WannaCry : ransomware malware
{
    meta:
        description = "WannaCry / WanaCrypt0r"
        author = "Argus"
        verdict = "malicious"
    strings:
        $s1 = "WanaCrypt0r" ascii wide
        $s2 = "WANACRY!" ascii
        $s3 = "tasksche.exe" ascii
        $s4 = "msg/m_english.wnry" ascii
        $s5 = "Wana Decrypt0r" ascii wide
        $s6 = "icacls . /grant Everyone:F /T /C /Q" ascii
        $s7 = "@WanaDecryptor@" ascii wide
    condition:
        filesize < 10MB and 2 of them
}

rule Ransom_LockBit : ransomware malware
{
    meta:
        description = "LockBit ransomware notes and binaries"
        author = "Argus"
        verdict = "malicious"
    strings:
        $s1 = "LockBit" ascii wide
        $s2 = "Restore-My-Files.txt" ascii wide
        $s3 = ".lockbit" ascii wide
        $s4 = "lockbitapt" ascii wide
        $s5 = "LockBit Black" ascii wide
        $s6 = "lockbitsupp" nocase ascii wide
    condition:
        filesize < 10MB and 2 of them
}

rule Ransom_Conti : ransomware malware
{
    meta:
        description = "Conti ransomware"
        author = "Argus"
        verdict = "malicious"
    strings:
        $s1 = "CONTI_README.txt" ascii wide
        $s2 = "readme.txt" ascii wide
        $s3 = "The system is LOCKED." ascii wide
        $s4 = "contirecovery" nocase ascii wide
        $s5 = "CONTI" ascii wide
        $s6 = ".CONTI" ascii wide
    condition:
        filesize < 10MB and ($s1 or $s4 or ($s3 and ($s5 or $s2)) or ($s6 and $s2))
}

rule Ransom_Ryuk : ransomware malware
{
    meta:
        description = "Ryuk ransomware"
        author = "Argus"
        verdict = "malicious"
    strings:
        $s1 = "RyukReadMe" ascii wide
        $s2 = "UNIQUE_ID_DO_NOT_REMOVE" ascii wide
        $s3 = "\\users\\Public\\window.bat" nocase ascii wide
        $s4 = "No system is safe" ascii wide
        $s5 = ".RYK" ascii wide
    condition:
        filesize < 10MB and 2 of them
}

rule Ransom_REvil_Sodinokibi : ransomware malware
{
    meta:
        description = "REvil / Sodinokibi ransomware"
        author = "Argus"
        verdict = "malicious"
    strings:
        $s1 = "Sodinokibi" nocase ascii wide
        $s2 = "-readme.txt" ascii wide
        $s3 = "expand 32-byte k" ascii
        $s4 = "decryptor.top" ascii wide
        $s5 = "{EXT}-readme" ascii wide
        $s6 = "\"nbody\"" ascii
    condition:
        filesize < 10MB and ($s1 or $s4 or $s5 or ($s3 and $s6) or ($s2 and $s3))
}

rule Ransom_Linux_ESXi : ransomware linux malware
{
    meta:
        description = "Linux/ESXi ransomware: stops VMs before encrypting datastores"
        author = "Argus"
        verdict = "malicious"
    strings:
        $e1 = "esxcli vm process kill" ascii
        $e2 = "vim-cmd vmsvc/getallvms" ascii
        $e3 = "vim-cmd vmsvc/power.off" ascii
        $e4 = "/vmfs/volumes" ascii
        $r1 = "encrypt" nocase ascii
        $r2 = ".vmdk" ascii
        $r3 = "README" ascii
    condition:
        filesize < 20MB and 2 of ($e*) and 2 of ($r*)
}

rule Ransom_Extension_List_And_Crypto : ransomware
{
    meta:
        description = "Binary listing many document extensions next to file-encryption and recovery-sabotage calls"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $x1 = ".docx" ascii wide
        $x2 = ".xlsx" ascii wide
        $x3 = ".pptx" ascii wide
        $x4 = ".sql" ascii wide
        $x5 = ".mdb" ascii wide
        $x6 = ".psd" ascii wide
        $x7 = ".vmdk" ascii wide
        $x8 = ".bak" ascii wide
        $c1 = "CryptEncrypt" ascii
        $c2 = "BCryptEncrypt" ascii
        $c3 = "CryptGenRandom" ascii
        $s1 = "vssadmin" nocase ascii wide
        $s2 = "FindFirstFileW" ascii
    condition:
        uint16(0) == 0x5A4D and filesize < 10MB and 6 of ($x*) and any of ($c*) and all of ($s*)
}

rule Ransom_Note_Filenames : ransomware note
{
    meta:
        description = "Well-known ransom-note file names referenced by a dropper or script"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $n1 = "HOW_TO_DECRYPT" nocase ascii wide
        $n2 = "DECRYPT_INSTRUCTIONS" nocase ascii wide
        $n3 = "HOW_TO_RECOVER_FILES" nocase ascii wide
        $n4 = "RECOVERY_INSTRUCTIONS" nocase ascii wide
        $n5 = "_readme.txt" nocase ascii wide
        $n6 = "!!!READ_ME!!!" nocase ascii wide
        $n7 = "RESTORE_FILES" nocase ascii wide
    condition:
        filesize < 10MB and 2 of them
}
