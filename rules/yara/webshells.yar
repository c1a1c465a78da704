/*
    Argus YARA rules: web shells (PHP, JSP, ASP/ASPX).
    SPDX-License-Identifier: Apache-2.0
*/

rule Webshell_PHP_Eval_Request : webshell php
{
    meta:
        description = "PHP evaluating request input directly (one-line backdoor)"
        author = "Argus"
        verdict = "malicious"
    strings:
        $php = "<?php" nocase
        $e1 = /(eval|assert)\s*\(\s*\$_(POST|GET|REQUEST|COOKIE|SERVER)\s*\[/ nocase
        $e2 = /(eval|assert)\s*\(\s*stripslashes\s*\(\s*\$_(POST|GET|REQUEST|COOKIE)/ nocase
        $e3 = /(eval|assert)\s*\(\s*base64_decode\s*\(\s*\$_(POST|GET|REQUEST|COOKIE)/ nocase
    condition:
        filesize < 2MB and ($php or uint16(0) == 0x3F3C) and any of ($e*)
}

rule Webshell_PHP_Exec_Request : webshell php
{
    meta:
        description = "PHP running a shell command taken from the request"
        author = "Argus"
        verdict = "malicious"
    strings:
        $x = /(system|shell_exec|passthru|exec|popen|proc_open|pcntl_exec)\s*\(\s*\$_(POST|GET|REQUEST|COOKIE)\s*\[/ nocase
        $bt = /`\s*\$_(POST|GET|REQUEST)\s*\[/ nocase
    condition:
        filesize < 2MB and any of them
}

rule Webshell_PHP_Obfuscated_Eval : webshell php obfuscated
{
    meta:
        description = "PHP eval of decoded or decompressed data (typical packed web shell)"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $a = /eval\s*\(\s*(gzinflate|gzuncompress|gzdecode|str_rot13|base64_decode)\s*\(\s*(gzinflate|gzuncompress|gzdecode|str_rot13|base64_decode|strrev)\s*\(/ nocase
        $b = /eval\s*\(\s*base64_decode\s*\(\s*['"][A-Za-z0-9+\/=]{200,}/ nocase
    condition:
        filesize < 5MB and any of them
}

rule Webshell_PHP_Preg_Replace_E : webshell php
{
    meta:
        description = "PHP preg_replace with the /e modifier fed from the request (code execution)"
        author = "Argus"
        verdict = "malicious"
    strings:
        $a = /preg_replace\s*\(\s*['"].{1,40}\/e['"]\s*,\s*\$_(POST|GET|REQUEST|COOKIE)/ nocase
    condition:
        filesize < 2MB and $a
}

rule Webshell_PHP_Create_Function_Request : webshell php
{
    meta:
        description = "PHP create_function or call_user_func on request input"
        author = "Argus"
        verdict = "malicious"
    strings:
        $a = /(create_function|call_user_func|call_user_func_array|array_map)\s*\(\s*\$_(POST|GET|REQUEST|COOKIE)\s*\[/ nocase
    condition:
        filesize < 2MB and $a
}

rule Webshell_PHP_C99 : webshell php malware
{
    meta:
        description = "c99 / c99madshell PHP web shell"
        author = "Argus"
        verdict = "malicious"
    strings:
        $s1 = "c99shell" nocase
        $s2 = "c99_buff_prepare" nocase
        $s3 = "c99sh_surl" nocase
        $s4 = "c99_sess_put" nocase
        $s5 = "!C99Shell" nocase
    condition:
        filesize < 2MB and 2 of them
}

rule Webshell_PHP_R57 : webshell php malware
{
    meta:
        description = "r57shell PHP web shell"
        author = "Argus"
        verdict = "malicious"
    strings:
        $s1 = "r57shell" nocase
        $s2 = "r57_pwd_hash" nocase
        $s3 = "RusH security team" nocase
        $s4 = "$_POST['cmd']" nocase
    condition:
        filesize < 2MB and 2 of them
}

rule Webshell_PHP_WSO : webshell php malware
{
    meta:
        description = "WSO (Web Shell by oRb) PHP web shell"
        author = "Argus"
        verdict = "malicious"
    strings:
        $s1 = "FilesMan" ascii
        $s2 = "WSOsetcookie" ascii
        $s3 = "wsoEx(" ascii
        $s4 = "Web Shell by oRb" nocase
        $s5 = "wsoHeader" ascii
    condition:
        filesize < 2MB and 2 of them
}

rule Webshell_PHP_B374k : webshell php malware
{
    meta:
        description = "b374k PHP web shell"
        author = "Argus"
        verdict = "malicious"
    strings:
        $s1 = "b374k" nocase
        $s2 = "b374k_config" nocase
        $s3 = "$GLOBALS['module']" ascii
        $s4 = "b374k shell" nocase
    condition:
        filesize < 2MB and 2 of them
}

rule Webshell_PHP_Weevely : webshell php malware
{
    meta:
        description = "Weevely agent: str_replace-assembled function names and a create_function trampoline"
        author = "Argus"
        verdict = "malicious"
    strings:
        $a = /\$[a-z]{1,5}\s*=\s*str_replace\s*\(\s*['"][a-zA-Z]{1,6}['"]\s*,\s*['"]['"]\s*,\s*['"][a-zA-Z]{10,40}['"]\s*\)/
        $b = "create_function" ascii
        $c = "base64_decode" ascii
    condition:
        filesize < 100KB and #a >= 2 and $b and $c
}

rule Webshell_PHP_File_Uploader : webshell php
{
    meta:
        description = "Minimal PHP uploader writing a request-supplied file to a request-supplied path"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $a = /move_uploaded_file\s*\(\s*\$_FILES\s*\[[^\]]{1,40}\]\s*\[\s*['"]tmp_name['"]\s*\]\s*,\s*\$_(POST|GET|REQUEST)/ nocase
        $b = /file_put_contents\s*\(\s*\$_(POST|GET|REQUEST)\s*\[[^\]]{1,40}\]\s*,\s*\$_(POST|GET|REQUEST)/ nocase
    condition:
        filesize < 1MB and any of them
}

rule Webshell_PHP_Hidden_In_Image : webshell php
{
    meta:
        description = "PHP code inside a file that starts like a GIF, JPEG or PNG image (upload filter bypass)"
        author = "Argus"
        verdict = "malicious"
    strings:
        $php = "<?php" nocase
        $f = /(eval|assert|system|passthru|shell_exec)\s*\(/ nocase
    condition:
        (uint32(0) == 0x38464947 or uint16(0) == 0xD8FF or uint32(0) == 0x474E5089)
        and $php and $f
}

rule Webshell_JSP_Runtime_Exec : webshell jsp
{
    meta:
        description = "JSP running a command taken from a request parameter"
        author = "Argus"
        verdict = "malicious"
    strings:
        $a = /Runtime\.getRuntime\(\)\.exec\s*\(\s*request\.getParameter\s*\(/
        $b = /new\s+ProcessBuilder\s*\(.{0,80}request\.getParameter\s*\(/
    condition:
        filesize < 1MB and any of them
}

rule Webshell_JSP_Class_Loader : webshell jsp malware
{
    meta:
        description = "JSP defining a class from request bytes (Behinder / Godzilla style memory shell)"
        author = "Argus"
        verdict = "malicious"
    strings:
        $a = "defineClass" ascii
        $b = "getParameter" ascii
        $c = "javax.crypto.Cipher" ascii
        $d = "AES" ascii
        $e = /extends\s+ClassLoader/
    condition:
        filesize < 1MB and $a and $e and ($b or ($c and $d))
}

rule Webshell_JSP_Cmd_Generic : webshell jsp
{
    meta:
        description = "JSP command shell: reads a process's output stream back into the response"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $exec = ".exec(" ascii
        $in = "getInputStream()" ascii
        $param = "request.getParameter" ascii
        $out = "out.print" ascii
        $jsp = "<%@ page" nocase
    condition:
        filesize < 200KB and $jsp and $exec and $in and $param and $out
}

rule Webshell_ASPX_Process_Start : webshell aspx
{
    meta:
        description = "ASPX starting cmd.exe or powershell with request input"
        author = "Argus"
        verdict = "malicious"
    strings:
        $hdr = "<%@ Page" nocase
        $p1 = "Process.Start" ascii
        $p2 = "ProcessStartInfo" ascii
        $cmd1 = "cmd.exe" nocase
        $cmd2 = "powershell" nocase
        $req = /Request(\.Form|\.QueryString|\.Item)?\s*\[/
    condition:
        filesize < 1MB and $hdr and any of ($p*) and any of ($cmd*) and $req
}

rule Webshell_ASP_China_Chopper : webshell asp malware
{
    meta:
        description = "China Chopper one-line ASP/ASPX/PHP client stub"
        author = "Argus"
        verdict = "malicious"
    strings:
        $aspx = /<%@\s*Page\s+Language\s*=\s*"?Jscript"?\s*%>\s*<%\s*eval\s*\(\s*Request\.Item\s*\[/ nocase
        $asp = /<%\s*eval\s+request\s*\(\s*"[^"]{1,20}"\s*\)\s*%>/ nocase
        $php = /<\?php\s+@eval\s*\(\s*\$_POST\s*\[\s*['"][^'"]{1,20}['"]\s*\]\s*\)\s*;?\s*\?>/ nocase
    condition:
        filesize < 10KB and any of them
}

rule Webshell_ASP_Execute_Request : webshell asp
{
    meta:
        description = "Classic ASP Execute/ExecuteGlobal/Eval of request input"
        author = "Argus"
        verdict = "malicious"
    strings:
        $a = /(Execute|ExecuteGlobal|Eval)\s*\(?\s*Request(\.Form|\.QueryString)?\s*\(/ nocase
    condition:
        filesize < 1MB and $a
}

rule Webshell_ASPX_Reflection_Load : webshell aspx malware
{
    meta:
        description = "ASPX loading an assembly from request bytes (memory shell)"
        author = "Argus"
        verdict = "malicious"
    strings:
        $load = "Assembly.Load" ascii
        $req1 = "Request.BinaryRead" ascii
        $req2 = "Request.Form" ascii
        $b64 = "FromBase64String" ascii
        $ci = "CreateInstance" ascii
    condition:
        filesize < 500KB and $load and $ci and $b64 and any of ($req*)
}
