"""The inference notebooks' prompt code, verbatim (aws-samples/amazon-sagemaker-llama2-response-streaming-recipes
at 695327e: build_llama2_prompt and get_instructions of the TGI and the LMI notebooks, and both example asks).
Run as a script, prints the four prompts as JSON: {"tgi": [ask1, ask2], "lmi": [ask1, ask2]}."""
import json


def build_llama2_prompt(instructions):
    stop_token = "</s>"
    start_token = "<s>"
    startPrompt = f"{start_token}[INST] "
    endPrompt = " [/INST]"
    conversation = []
    for index, instruction in enumerate(instructions):
        if instruction["role"] == "system" and index == 0:
            conversation.append(f"<<SYS>>\n{instruction['content']}\n<</SYS>>\n\n")
        elif instruction["role"] == "user":
            conversation.append(instruction["content"].strip())
        else:
            conversation.append(f"{endPrompt} {instruction['content'].strip()} {stop_token}{startPrompt}")

    return startPrompt + "".join(conversation) + endPrompt


def get_instructions_tgi(user_content):
    system_content = '''
    You are a friendly and knowledgeable email marketing agent, Mr.MightyMark, working at AnyCompany. 
    Your goal is to send email to subscribers to help them understand the value of the new product and generate excitement for the launch.

    Here are some tips on how to achieve your goal:

    Be personal. Address each subscriber by name and use a friendly and conversational tone.
    Be informative. Explain the key features and benefits of the new product in a clear and concise way.
    Be persuasive. Highlight how the new product can solve the subscriber's problems or improve their lives.
    Be engaging. Use emojis to make your emails more visually appealing and interesting to read.

    By following these tips, you can use email marketing to help your company launch a successful software product.
    '''
    instructions = [
        { "role": "system","content": f"{system_content} "},
    ]
    instructions.append({"role": "user", "content": f"{user_content}"})
    return instructions


def get_instructions_lmi(user_content):
    system_content = '''
    You are a friendly and knowledgeable email marketing agent, Mr.MightyMark, working at AnyCompany. 
    Your goal is to send email to subscribers to help them understand the value of the new product and generate excitement for the launch.

    Here are some tips on how to achieve your goal:

    Be Professional. Address each subscriber by name and use a Professional tone.
    Be informative. Explain the key features and benefits of the new product in a clear and concise way.
    Be persuasive. Highlight how the new product can solve the subscriber's problems or improve their lives.

    By following these tips, you can use email marketing to help your company launch a successful software product.
    '''
    instructions = [
        { "role": "system","content": f"{system_content} "},
    ]
    instructions.append({"role": "user", "content": f"{user_content}"})
    return instructions


user_ask_1 = f'''
AnyCompany recently announced new service launch named AnyCloud Internet Service.
Write a short email about the product launch with Call to action to Alice Smith, whose email is alice.smith@example.com
Mention the Coupon Code: EARLYB1RD to get 20% for 1st 3 months.
'''

user_ask_2 = f'''
AnyCompany recently announced new service launch named AnyCloud Streaming Service.
Write a short email about the product launch with Call to action to Alice Smith, whose email is alice.smith@example.com
Mention the Coupon Code: STREAM2DREAM to get 15% for 1st 6 months.
'''

if __name__ == "__main__":
    print(json.dumps({
        "tgi": [build_llama2_prompt(get_instructions_tgi(a)) for a in (user_ask_1, user_ask_2)],
        "lmi": [build_llama2_prompt(get_instructions_lmi(a)) for a in (user_ask_1, user_ask_2)],
    }))
