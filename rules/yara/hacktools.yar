/*
    Argus YARA rules: offensive frameworks and post-exploitation tools.
    SPDX-License-Identifier: Apache-2.0
*/

rule HackTool_CobaltStrike_Beacon_Strings : c2 hacktool malware
{
    meta:
        description = "Cobalt Strike beacon or stager strings"
        author = "Argus"
        verdict = "malicious"
    strings:
        $s1 = "%s as %s\\%s: %d" ascii
        $s2 = "beacon.dll" ascii
        $s3 = "beacon.x64.dll" ascii
        $s4 = "ReflectiveLoader" ascii
        $s5 = "%02d/%02d/%02d %02d:%02d:%02d" ascii
        $s6 = "could not spawn %s: %d" ascii
        $s7 = "IEX (New-Object Net.Webclient).DownloadString('http://127.0.0.1:%u/')" ascii
    condition:
        filesize < 10MB and 3 of them
}

rule HackTool_CobaltStrike_Malleable_Default : c2 hacktool
{
    meta:
        description = "Cobalt Strike default stager HTTP artefacts"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $ua = "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; WOW64; Trident/5.0; BOIE9;ENUS)" ascii wide
        $pipe1 = "\\\\.\\pipe\\MSSE-" ascii wide
        $pipe2 = "\\\\.\\pipe\\msagent_" ascii wide
        $pipe3 = "\\\\.\\pipe\\postex_" ascii wide
    condition:
        filesize < 10MB and any of them
}

rule HackTool_Metasploit_Meterpreter : c2 hacktool malware
{
    meta:
        description = "Metasploit Meterpreter payloads and stagers"
        author = "Argus"
        verdict = "malicious"
    strings:
        $s1 = "metsrv.dll" ascii wide
        $s2 = "ReflectiveLoader" ascii
        $s3 = "stdapi_sys_process_execute" ascii
        $s4 = "core_channel_open" ascii
        $s5 = "ext_server_stdapi" ascii
        $s6 = "meterpreter" nocase ascii wide
    condition:
        filesize < 10MB and 3 of them
}

rule HackTool_Metasploit_Shellcode_Block_API : shellcode hacktool malware
{
    meta:
        description = "Metasploit x86/x64 block_api hash-resolving shellcode prologue"
        author = "Argus"
        verdict = "malicious"
    strings:
        $x86 = { FC E8 8? 00 00 00 60 89 E5 31 ?? 64 8B ?? 30 8B ?? 0C 8B ?? 14 }
        $x64 = { FC 48 83 E4 F0 E8 C? 00 00 00 41 51 41 50 52 51 56 48 31 D2 65 48 8B 52 60 }
    condition:
        filesize < 10MB and any of them
}

rule HackTool_Sliver_Implant : c2 hacktool malware
{
    meta:
        description = "Sliver C2 implant (Go)"
        author = "Argus"
        verdict = "malicious"
    strings:
        $s1 = "github.com/bishopfox/sliver/protobuf/sliverpb" ascii
        $s2 = "sliverpb.Envelope" ascii
        $s3 = "/implant/sliver/" ascii
        $s4 = "bishopfox/sliver" ascii
    condition:
        filesize < 50MB and 2 of them
}

rule HackTool_PsExec_Like_Service : lateral_movement hacktool
{
    meta:
        description = "Remote service execution tools (PsExec, PAExec, RemCom, CSExec)"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $s1 = "PSEXESVC" ascii wide
        $s2 = "PAExec" ascii wide
        $s3 = "RemComSvc" ascii wide
        $s4 = "RemCom_communicaton" ascii wide
        $s5 = "csexecsvc" nocase ascii wide
    condition:
        uint16(0) == 0x5A4D and filesize < 10MB and any of them
}

rule HackTool_BloodHound_SharpHound : recon hacktool
{
    meta:
        description = "SharpHound / BloodHound Active Directory collection"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $s1 = "SharpHound" ascii wide
        $s2 = "Invoke-BloodHound" nocase ascii wide
        $s3 = "CollectionMethod" ascii wide
        $s4 = "BloodHound.zip" nocase ascii wide
        $s5 = "Sharphound.Runtime" ascii wide
    condition:
        filesize < 20MB and ($s2 or ($s1 and any of ($s3, $s4, $s5)))
}

rule HackTool_Chisel_Ligolo_Tunnel : tunnel hacktool
{
    meta:
        description = "Tunnelling tools used to pivot out of networks (chisel, ligolo-ng, frp)"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $c1 = "github.com/jpillora/chisel" ascii
        $c2 = "chisel-v3" ascii
        $l1 = "github.com/nicocha30/ligolo-ng" ascii
        $f1 = "github.com/fatedier/frp" ascii
    condition:
        filesize < 50MB and any of them
}

rule HackTool_PowerSploit_PowerView : recon powershell hacktool
{
    meta:
        description = "PowerSploit / PowerView reconnaissance and privilege escalation functions"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $f1 = "Get-DomainUser" nocase ascii wide
        $f2 = "Invoke-ShareFinder" nocase ascii wide
        $f3 = "Get-NetLoggedon" nocase ascii wide
        $f4 = "Find-LocalAdminAccess" nocase ascii wide
        $f5 = "Invoke-AllChecks" nocase ascii wide
        $f6 = "Get-GPPPassword" nocase ascii wide
        $f7 = "Invoke-UserHunter" nocase ascii wide
    condition:
        filesize < 20MB and 2 of them
}

rule HackTool_Privilege_Escalation_Potatoes : privesc hacktool
{
    meta:
        description = "Windows token impersonation exploits (JuicyPotato, RoguePotato, PrintSpoofer, GodPotato)"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $s1 = "JuicyPotato" nocase ascii wide
        $s2 = "RoguePotato" nocase ascii wide
        $s3 = "PrintSpoofer" nocase ascii wide
        $s4 = "GodPotato" nocase ascii wide
        $s5 = "SweetPotato" nocase ascii wide
        $i = "SeImpersonatePrivilege" ascii wide
    condition:
        filesize < 10MB and any of ($s*) and $i
}
