/*
    Argus YARA rules: PE and ELF traits (packers, injection and keylogging imports, anti-analysis).
    SPDX-License-Identifier: Apache-2.0
*/

import "pe"
import "elf"
import "math"

private rule Argus_Is_PE
{
    meta:
        description = "MZ header with a PE signature at e_lfanew"
        author = "Argus"
    condition:
        filesize > 64 and uint16(0) == 0x5A4D and uint32(0x3C) < filesize - 4
        and uint32(uint32(0x3C)) == 0x00004550
}

private rule Argus_Is_ELF
{
    meta:
        description = "ELF magic"
        author = "Argus"
    condition:
        uint32(0) == 0x464C457F
}

rule Packer_UPX_PE : packer pe
{
    meta:
        description = "PE packed with UPX (UPX0/UPX1 sections)"
        author = "Argus"
        verdict = "suspicious"
    condition:
        Argus_Is_PE and for any s in pe.sections : (s.name == "UPX0" or s.name == "UPX1")
}

rule Packer_UPX_ELF : packer elf
{
    meta:
        description = "ELF packed with UPX (UPX! marker)"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $upx = "UPX!" ascii
        $info = "$Info: This file is packed with the UPX executable packer" ascii
    condition:
        Argus_Is_ELF and ($info or #upx >= 2)
}

rule Packer_MPRESS : packer pe
{
    meta:
        description = "PE packed with MPRESS"
        author = "Argus"
        verdict = "suspicious"
    condition:
        Argus_Is_PE and for any s in pe.sections : (s.name == ".MPRESS1" or s.name == ".MPRESS2")
}

rule Packer_ASPack : packer pe
{
    meta:
        description = "PE packed with ASPack"
        author = "Argus"
        verdict = "suspicious"
    condition:
        Argus_Is_PE and for any s in pe.sections : (s.name == ".aspack" or s.name == ".adata")
}

rule Packer_Themida_VMProtect : packer protector pe
{
    meta:
        description = "PE protected with Themida/WinLicense or VMProtect"
        author = "Argus"
        verdict = "suspicious"
    condition:
        Argus_Is_PE and for any s in pe.sections : (
            s.name == ".themida" or s.name == ".winlice" or s.name == ".vmp0" or s.name == ".vmp1"
        )
}

rule Packer_PECompact_Petite : packer pe
{
    meta:
        description = "PE packed with PECompact, Petite, FSG or NsPack"
        author = "Argus"
        verdict = "suspicious"
    condition:
        Argus_Is_PE and for any s in pe.sections : (
            s.name == "PEC2" or s.name == "PECompact2" or s.name == ".petite" or
            s.name == ".nsp0" or s.name == ".nsp1" or s.name == "FSG!"
        )
}

rule PE_High_Entropy_Executable_Section : packer pe
{
    meta:
        description = "Executable PE section with near-random content (packed or encrypted code)"
        author = "Argus"
        verdict = "suspicious"
    condition:
        Argus_Is_PE and filesize < 50MB and
        for any s in pe.sections : (
            s.raw_data_size > 4096 and
            (s.characteristics & 0x20000000) != 0 and
            math.entropy(s.raw_data_offset, s.raw_data_size) > 7.4
        )
}

rule PE_Process_Injection_APIs : injection pe
{
    meta:
        description = "PE naming the classic remote-thread injection APIs"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $a1 = "VirtualAllocEx" ascii
        $a2 = "WriteProcessMemory" ascii
        $a3 = "CreateRemoteThread" ascii
        $a4 = "NtCreateThreadEx" ascii
        $a5 = "OpenProcess" ascii
    condition:
        Argus_Is_PE and $a1 and $a2 and ($a3 or $a4) and $a5
}

rule PE_Process_Hollowing_APIs : injection pe
{
    meta:
        description = "PE naming process-hollowing APIs (unmap, set thread context, resume)"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $u1 = "NtUnmapViewOfSection" ascii
        $u2 = "ZwUnmapViewOfSection" ascii
        $c1 = "SetThreadContext" ascii
        $c2 = "Wow64SetThreadContext" ascii
        $r = "ResumeThread" ascii
        $w = "WriteProcessMemory" ascii
    condition:
        Argus_Is_PE and any of ($u*) and any of ($c*) and $r and $w
}

rule PE_Keylogger_APIs : keylogger pe
{
    meta:
        description = "PE with a keyboard hook or key-state polling together with foreground-window tracking"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $k1 = "SetWindowsHookExA" ascii
        $k2 = "SetWindowsHookExW" ascii
        $k3 = "GetAsyncKeyState" ascii
        $k4 = "GetKeyboardState" ascii
        $w1 = "GetForegroundWindow" ascii
        $w2 = "GetWindowTextA" ascii
        $w3 = "GetWindowTextW" ascii
        $m = "MapVirtualKeyA" ascii
    condition:
        Argus_Is_PE and 2 of ($k*) and $w1 and any of ($w2, $w3) and $m
}

rule PE_Anti_Debug_Anti_VM : evasion pe
{
    meta:
        description = "PE combining several debugger checks with virtual-machine artefacts"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $d1 = "IsDebuggerPresent" ascii
        $d2 = "CheckRemoteDebuggerPresent" ascii
        $d3 = "NtQueryInformationProcess" ascii
        $d4 = "OutputDebugStringA" ascii
        $v1 = "VBoxService.exe" nocase ascii wide
        $v2 = "vmtoolsd.exe" nocase ascii wide
        $v3 = "VBOX HARDDISK" nocase ascii wide
        $v4 = "SbieDll.dll" nocase ascii wide
        $v5 = "wine_get_unix_file_name" ascii
        $v6 = "VMware Virtual" nocase ascii wide
    condition:
        Argus_Is_PE and 2 of ($d*) and 2 of ($v*)
}

rule PE_Tiny_Downloader : downloader pe
{
    meta:
        description = "Small PE that downloads a file and runs it (URLDownloadToFile + ShellExecute/WinExec)"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $d1 = "URLDownloadToFileA" ascii
        $d2 = "URLDownloadToFileW" ascii
        $e1 = "ShellExecuteA" ascii
        $e2 = "ShellExecuteW" ascii
        $e3 = "WinExec" ascii
        $e4 = "CreateProcessA" ascii
    condition:
        Argus_Is_PE and filesize < 300KB and any of ($d*) and any of ($e*)
}

rule PE_Disguised_Extension_Name : pe masquerade
{
    meta:
        description = "PE whose original file name in its version info claims a document extension"
        author = "Argus"
        verdict = "suspicious"
    condition:
        Argus_Is_PE and (
            pe.version_info["OriginalFilename"] matches /\.(pdf|docx?|xlsx?|jpe?g|png|txt)(\.exe)?$/i
        )
}

rule PE_Shellcode_Runner_Go_Nim : injection pe
{
    meta:
        description = "Go or Nim binary with a VirtualAlloc/VirtualProtect/CreateThread shellcode runner"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $go = "Go build ID:" ascii
        $nim = "NimMain" ascii
        $a1 = "VirtualAlloc" ascii
        $a2 = "VirtualProtect" ascii
        $a3 = "CreateThread" ascii
        $a4 = "RtlCopyMemory" ascii
    condition:
        Argus_Is_PE and ($go or $nim) and $a1 and $a2 and ($a3 or $a4)
}

rule ELF_LD_Preload_Rootkit : rootkit elf malware
{
    meta:
        description = "ELF shared object hooking readdir/fopen to hide files, written to /etc/ld.so.preload"
        author = "Argus"
        verdict = "malicious"
    strings:
        $p = "/etc/ld.so.preload" ascii
        $h1 = "readdir64" ascii
        $h2 = "fopen64" ascii
        $h3 = "dlsym" ascii
        $h4 = "RTLD_NEXT" ascii
        $hide = "/proc/net/tcp" ascii
    condition:
        Argus_Is_ELF and elf.type == elf.ET_DYN and $p and $h1 and $h3 and ($h2 or $h4 or $hide)
}

rule ELF_No_Sections_Stripped_Dropper : elf
{
    meta:
        description = "ELF executable without a section table that names download tools (stripped loader)"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $w1 = "wget " ascii
        $w2 = "curl " ascii
        $w3 = "tftp " ascii
        $tmp = "/tmp/" ascii
    condition:
        // e_shnum (offset 0x30 in ELF32, 0x3C in ELF64) is 0: no section table.
        Argus_Is_ELF and elf.type == elf.ET_EXEC and
        ((uint8(4) == 1 and uint16(0x30) == 0) or (uint8(4) == 2 and uint16(0x3C) == 0)) and
        any of ($w*) and $tmp
}

rule ELF_Mirai_Botnet : botnet elf malware
{
    meta:
        description = "Mirai family IoT bot (default credential table and scanner strings)"
        author = "Argus"
        verdict = "malicious"
    strings:
        $s1 = "/dev/watchdog" ascii
        $s2 = "/dev/misc/watchdog" ascii
        $s3 = "LCOGQGPTGP" ascii
        $s4 = "TSource Engine Query" ascii
        $s5 = "/bin/busybox MIRAI" ascii
        $s6 = "xmhdipc" ascii
        $s7 = "vizxv" ascii
    condition:
        Argus_Is_ELF and filesize < 2MB and 3 of them
}

rule ELF_Gafgyt_Botnet : botnet elf malware
{
    meta:
        description = "Gafgyt/Bashlite IoT bot commands"
        author = "Argus"
        verdict = "malicious"
    strings:
        $c1 = "PONG!" ascii
        $c2 = "LOLNOGTFO" ascii
        $c3 = "HTTPFLOOD" ascii
        $c4 = "UDPRAW" ascii
        $c5 = "KILLATTK" ascii
        $c6 = "/bin/busybox;echo -e" ascii
    condition:
        Argus_Is_ELF and filesize < 2MB and 3 of them
}

rule ELF_XorDDoS : botnet elf malware
{
    meta:
        description = "XorDDoS Linux bot: rootkit and persistence strings"
        author = "Argus"
        verdict = "malicious"
    strings:
        $s1 = "BB2FA36AAA9541F0" ascii
        $s2 = "/etc/cron.hourly/gcc.sh" ascii
        $s3 = "/lib/libudev.so" ascii
        $s4 = "sed -i '/\\/etc\\/cron.hourly\\/gcc.sh/d' /etc/crontab" ascii
    condition:
        Argus_Is_ELF and 2 of them
}
