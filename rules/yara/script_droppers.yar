/*
    Argus YARA rules: script droppers and downloaders (PowerShell, VBA, JScript/VBScript, HTA, batch).
    SPDX-License-Identifier: Apache-2.0
*/

rule PowerShell_Download_Cradle : powershell dropper
{
    meta:
        description = "PowerShell download cradle: fetches a script and runs it in memory"
        author = "Argus"
        verdict = "malicious"
    strings:
        $dl1 = "DownloadString(" nocase ascii wide
        $dl2 = "DownloadData(" nocase ascii wide
        $dl3 = "Invoke-WebRequest" nocase ascii wide
        $dl4 = "Net.WebClient" nocase ascii wide
        $dl5 = "Invoke-RestMethod" nocase ascii wide
        $ex1 = "IEX" nocase ascii wide
        $ex2 = "Invoke-Expression" nocase ascii wide
        $ex3 = "| iex" nocase ascii wide
    condition:
        filesize < 5MB and any of ($dl*) and any of ($ex*)
}

rule PowerShell_Encoded_Command : powershell
{
    meta:
        description = "powershell.exe started hidden with a Base64 -EncodedCommand"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $a = /powershell(\.exe)?["']?\s+[^\r\n]{0,80}-(e|en|enc|enco|encod|encode|encoded|encodedcommand)\s+[A-Za-z0-9+\/=]{40,}/ nocase ascii wide
        $hidden = /-w(indowstyle)?\s+(hidden|1)\b/ nocase ascii wide
    condition:
        filesize < 5MB and $a and $hidden
}

rule PowerShell_AMSI_Bypass : powershell evasion malware
{
    meta:
        description = "PowerShell AMSI bypass (amsiInitFailed or patching AmsiScanBuffer)"
        author = "Argus"
        verdict = "malicious"
    strings:
        $a1 = "amsiInitFailed" nocase ascii wide
        $a2 = "System.Management.Automation.AmsiUtils" nocase ascii wide
        $a3 = "AmsiScanBuffer" nocase ascii wide
        $p1 = "VirtualProtect" nocase ascii wide
        $p2 = "GetProcAddress" nocase ascii wide
        $p3 = "SetValue($null,$true)" nocase ascii wide
    condition:
        filesize < 5MB and (($a1 and ($a2 or $p3)) or ($a3 and $p1 and $p2))
}

rule PowerShell_Reflective_Injection : powershell injection malware
{
    meta:
        description = "PowerShell reflective PE / shellcode injection (Invoke-ReflectivePEInjection, Invoke-Shellcode)"
        author = "Argus"
        verdict = "malicious"
    strings:
        $n1 = "Invoke-ReflectivePEInjection" nocase ascii wide
        $n2 = "Invoke-Shellcode" nocase ascii wide
        $n3 = "Invoke-DllInjection" nocase ascii wide
        $w1 = "GetDelegateForFunctionPointer" nocase ascii wide
        $w2 = "VirtualAlloc" nocase ascii wide
        $w3 = "CreateThread" nocase ascii wide
        $w4 = "[System.Runtime.InteropServices.Marshal]::Copy" nocase ascii wide
    condition:
        filesize < 5MB and (any of ($n*) or 4 of ($w*))
}

rule PowerShell_Obfuscation_Invoke_Obfuscation : powershell obfuscated
{
    meta:
        description = "Invoke-Obfuscation style PowerShell: char-code joins, string reversal, -bxor decoding into IEX"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $c1 = /\[char\[\]\]\s*\(\s*\d{2,3}\s*,\s*\d{2,3}\s*,\s*\d{2,3}/ nocase
        $c2 = /-join\s*\(\s*\(?\s*\d{2,3}\s*,\s*\d{2,3}\s*,\s*\d{2,3}[^)]{0,200}\)\s*\|\s*%\s*\{\s*\[char\]/ nocase
        $c3 = "-bxor" nocase
        $iex1 = /\$\{?env:comspec\}?\[\d+,\d+,\d+\]/ nocase
        $iex2 = /\$pshome\[\d+\]\s*\+\s*\$pshome\[\d+\]/ nocase
        $iex3 = /\.\(\s*\$ShellId\[1\]/ nocase
    condition:
        filesize < 5MB and (any of ($iex*) or ($c3 and ($c1 or $c2)))
}

rule PowerShell_Defender_Tampering : powershell evasion
{
    meta:
        description = "PowerShell turning off Microsoft Defender or adding broad exclusions"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $a1 = /Set-MpPreference\s+[^\r\n]{0,60}-DisableRealtimeMonitoring\s+(\$true|1)/ nocase ascii wide
        $a2 = /Add-MpPreference\s+-ExclusionPath\s+["']?(C:\\|\$env:)/ nocase ascii wide
        $a3 = /Set-MpPreference\s+[^\r\n]{0,60}-DisableIOAVProtection\s+(\$true|1)/ nocase ascii wide
    condition:
        filesize < 5MB and any of them
}

rule PowerShell_Empire_Stager : powershell malware
{
    meta:
        description = "PowerShell Empire stager traits"
        author = "Argus"
        verdict = "malicious"
    strings:
        $s1 = "System.Management.Automation.Utils" nocase ascii wide
        $s2 = "cachedGroupPolicySettings" nocase ascii wide
        $s3 = "EnableScriptBlockLogging" nocase ascii wide
        $s4 = "Expect100Continue" nocase ascii wide
        $s5 = "-bxor$k[" nocase ascii wide
    condition:
        filesize < 2MB and 4 of them
}

rule VBA_AutoExec_Shell : vba macro dropper
{
    meta:
        description = "Office macro that runs a program when the document opens"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $auto1 = "AutoOpen" nocase
        $auto2 = "Document_Open" nocase
        $auto3 = "Workbook_Open" nocase
        $auto4 = "Auto_Open" nocase
        $run1 = "WScript.Shell" nocase
        $run2 = /\bShell\s*\(/ nocase
        $run3 = "Shell.Application" nocase
        $run4 = "Win32_Process" nocase
    condition:
        filesize < 20MB and any of ($auto*) and any of ($run*)
}

rule VBA_Downloader : vba macro dropper malware
{
    meta:
        description = "Office macro that downloads a file and runs it"
        author = "Argus"
        verdict = "malicious"
    strings:
        $dl1 = "MSXML2.XMLHTTP" nocase
        $dl2 = "WinHttp.WinHttpRequest" nocase
        $dl3 = "Microsoft.XMLHTTP" nocase
        $url = "URLDownloadToFileA" nocase
        $save1 = "ADODB.Stream" nocase
        $save2 = "SaveToFile" nocase
        $run1 = "WScript.Shell" nocase
        $run2 = "ShellExecute" nocase
        $run3 = /\bShell\s*\(/ nocase
    condition:
        filesize < 20MB and (any of ($dl*) or $url) and (any of ($save*) or $url) and any of ($run*)
}

rule VBA_Obfuscated_Chr_Concat : vba macro obfuscated
{
    meta:
        description = "Macro building strings from long chains of Chr() calls"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $chr = /Chr[WB]?\s*\(\s*\d{2,3}\s*\)\s*&\s*Chr[WB]?\s*\(\s*\d{2,3}\s*\)\s*&\s*Chr[WB]?\s*\(\s*\d{2,3}\s*\)/ nocase
    condition:
        filesize < 20MB and #chr > 10
}

rule VBA_Win32_API_Shellcode : vba macro injection malware
{
    meta:
        description = "Macro declaring Win32 memory APIs to run shellcode"
        author = "Argus"
        verdict = "malicious"
    strings:
        $decl = /Declare\s+(PtrSafe\s+)?Function/ nocase
        $a1 = "VirtualAlloc" nocase
        $a2 = "RtlMoveMemory" nocase
        $a3 = "CreateThread" nocase
        $a4 = "EnumSystemLocalesA" nocase
        $a5 = "WriteProcessMemory" nocase
    condition:
        filesize < 20MB and $decl and 3 of ($a*)
}

rule JS_WScript_Dropper : javascript dropper
{
    meta:
        description = "JScript/WSH dropper: fetches a file, writes it and runs it"
        author = "Argus"
        verdict = "malicious"
    strings:
        $ax = "ActiveXObject" ascii
        $http1 = "MSXML2.XMLHTTP" nocase
        $http2 = "WinHttp.WinHttpRequest" nocase
        $http3 = "MSXML2.ServerXMLHTTP" nocase
        $stream = "ADODB.Stream" nocase
        $run1 = "WScript.Shell" nocase
        $run2 = "Shell.Application" nocase
    condition:
        filesize < 5MB and $ax and any of ($http*) and $stream and any of ($run*)
}

rule JS_Eval_Packed : javascript obfuscated
{
    meta:
        description = "JavaScript packed with the eval(function(p,a,c,k,e,d) packer"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $a = /eval\s*\(\s*function\s*\(\s*p\s*,\s*a\s*,\s*c\s*,\s*k\s*,\s*e\s*,\s*[rd]\s*\)/
    condition:
        filesize < 5MB and $a
}

rule JS_Obfuscator_IO_Hex_Names : javascript obfuscated
{
    meta:
        description = "javascript-obfuscator output: hundreds of _0x-prefixed identifiers"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $a = /_0x[0-9a-f]{4,6}\(/
    condition:
        filesize < 5MB and #a > 100
}

rule JS_Credit_Card_Skimmer : javascript skimmer malware
{
    meta:
        description = "Web skimmer (Magecart style): reads card fields and sends them off-site"
        author = "Argus"
        verdict = "malicious"
    strings:
        $f1 = "cc_number" nocase
        $f2 = "cardnumber" nocase
        $f3 = "cc_cid" nocase
        $f4 = "card_expiry" nocase
        $s1 = "btoa(" ascii
        $s2 = "new Image()" ascii
        $s3 = "sendBeacon(" ascii
        $ev1 = "onepage" nocase
        $ev2 = "checkout" nocase
    condition:
        filesize < 2MB and 2 of ($f*) and $s1 and ($s2 or $s3) and any of ($ev*)
}

rule VBS_Dropper_Generic : vbscript dropper
{
    meta:
        description = "VBScript that downloads, saves and runs a payload"
        author = "Argus"
        verdict = "malicious"
    strings:
        $obj = "CreateObject(" nocase
        $http1 = "MSXML2.XMLHTTP" nocase
        $http2 = "WinHttp.WinHttpRequest" nocase
        $stream = "ADODB.Stream" nocase
        $run = ".Run " nocase
        $tmp = "%TEMP%" nocase
    condition:
        filesize < 2MB and $obj and any of ($http*) and $stream and $run and $tmp
}

rule HTA_Script_Runner : hta dropper
{
    meta:
        description = "HTML application that runs commands through WScript.Shell"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $hta = "<HTA:APPLICATION" nocase
        $a1 = "WScript.Shell" nocase
        $a2 = "powershell" nocase
        $a3 = "cmd.exe" nocase
    condition:
        filesize < 5MB and $hta and $a1 and ($a2 or $a3)
}

rule Batch_Download_Execute : batch dropper
{
    meta:
        description = "Windows command script using LOLBins (certutil, bitsadmin, mshta) to download and run a payload"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $c1 = /certutil(\.exe)?\s+[^\r\n]{0,40}-urlcache\s+[^\r\n]{0,20}-f\s+https?:\/\// nocase ascii wide
        $c2 = /bitsadmin(\.exe)?\s+\/transfer\s+[^\r\n]{1,60}https?:\/\// nocase ascii wide
        $c3 = /mshta(\.exe)?\s+["']?(https?:|javascript:|vbscript:)/ nocase ascii wide
        $c4 = /regsvr32(\.exe)?\s+\/s\s+\/n\s+\/u\s+\/i:https?:\/\// nocase ascii wide
    condition:
        filesize < 5MB and any of them
}

rule Script_Reverse_Shell_PowerShell : powershell backdoor malware
{
    meta:
        description = "PowerShell TCP reverse shell (Nishang Invoke-PowerShellTcp and one-liners)"
        author = "Argus"
        verdict = "malicious"
    strings:
        $n = "Invoke-PowerShellTcp" nocase ascii wide
        $t = "System.Net.Sockets.TCPClient" nocase ascii wide
        $s1 = "GetStream()" nocase ascii wide
        $s2 = "Out-String" nocase ascii wide
        $s3 = "PS " ascii wide
        $s4 = "iex $data" nocase ascii wide
    condition:
        filesize < 2MB and ($n or ($t and $s1 and $s2 and ($s3 or $s4)))
}
